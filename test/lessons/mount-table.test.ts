/**
 * MountTable, the checks API's view of a mount table, on mountinfo text as a sandbox
 * shows it (a stacked mount, a bind of a subdirectory, peers in two namespaces).
 */
import { describe, expect, it } from 'vitest';
import { MountTable, arePeers, describeSource, mountedDir, propagationName, sameFsLocation } from '../../lab-server/checks/api.ts';
import { parseMountinfo } from '../../lab-server/sandbox/probe.ts';

const sandbox = new MountTable(parseMountinfo([
  '158 163 7:0 /usr /usr ro,nosuid,nodev,relatime,idmapped - erofs /dev/loop0 ro',
  '163 135 0:50 / / rw,nosuid,nodev,relatime - tmpfs nslab-rw rw',
  '179 161 0:58 / /var/tmp rw,nosuid,nodev,relatime - tmpfs tmpfs rw',
  '161 163 7:0 /var /var ro,nosuid,nodev,relatime,idmapped - erofs /dev/loop0 ro',
  '148 163 0:60 / /mnt/shared rw,relatime shared:1 - tmpfs shared rw',
  '264 148 0:61 / /mnt/shared/inner rw,relatime shared:2 - tmpfs inner rw',
  // a second tmpfs mounted over /mnt/shared/inner: the top of the stack is what paths reach
  '270 264 0:65 / /mnt/shared/inner rw,relatime - tmpfs over rw',
  '271 163 0:50 /tmp/site /srv/www rw,relatime - tmpfs nslab-rw rw',
].join('\n')));

describe('MountTable', () => {
  it('finds the top of a stack of mounts at a path, and nothing where nothing is mounted', () => {
    expect(sandbox.at('/mnt/shared/inner')?.mountId).toBe(270);
    expect(sandbox.at('/mnt/shared/inner/')?.mountId).toBe(270);
    expect(sandbox.at('/mnt')).toBeUndefined();
    expect(sandbox.at('/')?.source).toBe('nslab-rw');
  });

  it('finds the mount a path lies on and which directory of which filesystem it is', () => {
    expect(sandbox.containing('/usr/bin/ls')?.mountId).toBe(158);
    expect(sandbox.containing('/var/tmp/x')?.mountId).toBe(179);
    expect(sandbox.containing('/variable')?.mountId).toBe(163);
    expect(sandbox.locate('/usr/bin')).toEqual({ device: '7:0', path: '/usr/bin' });
    expect(sandbox.locate('/var/log')).toEqual({ device: '7:0', path: '/var/log' });
    expect(sandbox.locate('/tmp/site')).toEqual({ device: '0:50', path: '/tmp/site' });
    expect(sandbox.locate('/srv/www/index.html')).toEqual({ device: '0:50', path: '/tmp/site/index.html' });
    expect(sandbox.locate('/')).toEqual({ device: '0:50', path: '/' });
  });

  it('tells a bind mount from the directory it shows', () => {
    const bind = sandbox.at('/srv/www')!;
    expect(sameFsLocation(mountedDir(bind), sandbox.locate('/tmp/site'))).toBe(true);
    expect(sameFsLocation(mountedDir(bind), sandbox.locate('/tmp'))).toBe(false);
    expect(sameFsLocation(mountedDir(bind), null)).toBe(false);
    expect(describeSource(bind)).toBe('nslab-rw[/tmp/site]');
    expect(describeSource(sandbox.at('/')!)).toBe('nslab-rw');
  });

  it('names propagation the way findmnt does and knows peers', () => {
    const child = new MountTable(parseMountinfo([
      '262 222 0:60 / /mnt/shared rw,relatime shared:1 - tmpfs shared rw',
      '263 262 0:61 / /mnt/shared/inner rw,relatime shared:2 - tmpfs inner rw',
      '300 222 0:66 / /mnt/s rw master:2 - tmpfs s rw',
      '301 222 0:67 / /mnt/ss rw shared:7 master:2 - tmpfs ss rw',
      '302 222 0:68 / /mnt/u rw unbindable - tmpfs u rw',
    ].join('\n')));
    expect(arePeers(child.at('/mnt/shared/inner')!, sandbox.mounts.find((m) => m.mountId === 264)!)).toBe(true);
    expect(arePeers(child.at('/mnt/shared')!, sandbox.at('/mnt/shared/inner')!)).toBe(false);
    // private mounts are in no peer group, not in one group "null"
    expect(arePeers(sandbox.at('/')!, sandbox.at('/usr')!)).toBe(false);
    expect(child.parent(child.at('/mnt/shared/inner')!)?.mountId).toBe(262);
    expect(child.parent(child.at('/mnt/shared')!)).toBeUndefined();
    expect(['/mnt/shared', '/mnt/s', '/mnt/ss', '/mnt/u'].map((p) => propagationName(child.at(p)!))).toEqual(['shared', 'slave', 'shared,slave', 'unbindable']);
    expect(propagationName(sandbox.at('/')!)).toBe('private');
  });
});
