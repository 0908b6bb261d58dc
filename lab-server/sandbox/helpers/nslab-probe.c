/*
 * nslab-probe: the probe's one long-lived helper (lab-server/sandbox/probe-helper.ts).
 *
 * Why long-lived: a check round used to start a helper process per read (`nsenter
 * ... cat` for IPC and sysctls, `nsenter ... unshare ... sh` plus a `stat` and a
 * `head` per queue for POSIX message queues), and with many idle sessions those
 * fork+execs were half of the server's CPU. This process is started once; each
 * request is served by a fork of it (no exec), which joins only what the request
 * needs and exits, so a namespace joined for one sandbox never leaks into the next.
 *
 * Request on stdin: a line "OP PID MAXBYTES ARGLEN\n" followed by ARGLEN bytes of
 * argument. Answer on stdout: "CODE LEN\n" followed by LEN bytes (the data, or an
 * error text when CODE != 0). Requests are served one at a time, in order.
 *
 *   read   ARG = path: a regular file as PID sees it. Joins PID's user and mount
 *          namespaces and root (user first: from then on it has no privilege on the
 *          host), chroots there and only open(2)s and read(2)s: symlinks resolve
 *          inside the sandbox and no program of the learner's can ever run in its
 *          place (docs/security.md, gap 0). CODE 2 no such file, 4 not a regular file.
 *   ipc    /proc/sysvipc/{msg,shm,sem} of PID's IPC namespace, one after the other.
 *   mq     the POSIX message queues of PID's IPC namespace, one per line,
 *          "NAME\tMODE(octal)\tFIRST 200 BYTES" (mqueue mounted in a private mount
 *          namespace of this fork only), names sorted like sh's glob: "*" then ".[!.]*".
 *   sysctl ARG = path under /proc/sys, read in PID's IPC, UTS and net namespaces.
 *   net    the links, addresses, routes and IPv4/IPv6 neighbours of a network
 *          namespace, read over rtnetlink (rtnetlink(7)), one tab-separated record
 *          per line (see op_net). ARG empty: PID's own network namespace. ARG = path:
 *          a namespace file pinned by a mount (`ip netns add` makes /run/netns/NAME),
 *          opened as PID sees it, exactly like `read` (user and mount namespace and
 *          root of PID, open(2) only: from then on the fork has no more privilege than
 *          the learner's root). CODE 2 no such file, 4 not a network namespace.
 * The ipc, mq, sysctl and net-by-pid forks join no user, mount or pid namespace of
 * the sandbox: the files they open are the host's procfs. CODE 3 is any other failure.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARG 8192
#define FORK_TIMEOUT_S 5

static char *out;
static size_t out_len, out_cap;

static void put(const char *b, size_t n) {
  if (out_len + n > out_cap) {
    size_t cap = out_cap ? out_cap : 65536;
    while (cap < out_len + n) cap *= 2;
    char *p = realloc(out, cap);
    if (!p) _exit(3);
    out = p;
    out_cap = cap;
  }
  memcpy(out + out_len, b, n);
  out_len += n;
}

static int write_all(int fd, const char *b, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

/** answer and end this fork */
static void answer(int code) {
  char head[64];
  alarm(0);
  int n = snprintf(head, sizeof head, "%d %zu\n", code, out_len);
  if (write_all(1, head, (size_t)n) != 0 || write_all(1, out ? out : "", out_len) != 0) _exit(1);
  _exit(0);
}

static void fail(int code, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  out_len = 0;
  put(msg, n < 0 ? 0 : (size_t)n >= sizeof msg ? sizeof msg - 1 : (size_t)n);
  answer(code);
}

static int open_proc(const char *pid, const char *what, int flags) {
  char path[128];
  snprintf(path, sizeof path, "/proc/%s/%s", pid, what);
  return open(path, flags | O_CLOEXEC);
}

static void join_ns(const char *pid, const char *kind, int nstype) {
  int fd = open_proc(pid, kind, O_RDONLY);
  if (fd < 0) fail(3, "open /proc/%s/%s: %s", pid, kind, strerror(errno));
  if (setns(fd, nstype) != 0) fail(3, "setns %s: %s", kind, strerror(errno));
  close(fd);
}

/** appends up to max bytes of an open fd; returns bytes read or -1 */
static long slurp(int fd, long max) {
  static char buf[65536];
  long total = 0;
  while (total < max) {
    long want = max - total < (long)sizeof buf ? max - total : (long)sizeof buf;
    ssize_t n = read(fd, buf, (size_t)want);
    if (n < 0) { if (errno == EINTR) continue; return -1; }
    if (n == 0) break;
    put(buf, (size_t)n);
    total += n;
  }
  return total;
}

static void op_read(const char *pid, const char *path, long max) {
  int rootfd = open_proc(pid, "root", O_PATH | O_DIRECTORY);
  int userfd = open_proc(pid, "ns/user", O_RDONLY);
  int mntfd = open_proc(pid, "ns/mnt", O_RDONLY);
  if (rootfd < 0 || userfd < 0 || mntfd < 0) fail(3, "open target %s: %s", pid, strerror(errno));
  clearenv();
  if (setns(userfd, CLONE_NEWUSER) != 0) fail(3, "setns user: %s", strerror(errno));
  if (setns(mntfd, CLONE_NEWNS) != 0) fail(3, "setns mnt: %s", strerror(errno));
  if (fchdir(rootfd) != 0 || chroot(".") != 0 || chdir("/") != 0) fail(3, "chroot: %s", strerror(errno));
  if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) fail(3, "setresuid: %s", strerror(errno));
  int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    fail((e == ENOENT || e == ENOTDIR) ? 2 : 3, "%s: %s", path, strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) fail(4, "%s: not a regular file", path);
  if (slurp(fd, max) < 0) fail(3, "read %s: %s", path, strerror(errno));
  answer(0);
}

static void op_ipc(const char *pid, long max) {
  join_ns(pid, "ns/ipc", CLONE_NEWIPC);
  const char *files[] = { "/proc/sysvipc/msg", "/proc/sysvipc/shm", "/proc/sysvipc/sem" };
  for (int i = 0; i < 3; i++) {
    int fd = open(files[i], O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(3, "%s: %s", files[i], strerror(errno));
    if (slurp(fd, max) < 0) fail(3, "read %s: %s", files[i], strerror(errno));
    close(fd);
  }
  answer(0);
}

/** sh's glob order for "* .[!.]*": names without a leading dot first, each group by strcmp */
static int glob_order(const struct dirent **a, const struct dirent **b) {
  int da = (*a)->d_name[0] == '.', db = (*b)->d_name[0] == '.';
  if (da != db) return da - db;
  return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_dot_entry(const struct dirent *d) {
  return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

static void op_mq(const char *pid, long max) {
  join_ns(pid, "ns/ipc", CLONE_NEWIPC);
  // an mqueue mount shows the queues of the IPC namespace of whoever mounts it
  if (unshare(CLONE_NEWNS) != 0) fail(3, "unshare mnt: %s", strerror(errno));
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail(3, "make mounts private: %s", strerror(errno));
  if (mount("nslab-probe", "/mnt", "mqueue", 0, NULL) != 0) fail(3, "mount mqueue: %s", strerror(errno));
  int dirfd = open("/mnt", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) fail(3, "open mqueue mount: %s", strerror(errno));
  struct dirent **names;
  int n = scandir("/mnt", &names, not_dot_entry, glob_order);
  if (n < 0) fail(3, "list mqueue mount: %s", strerror(errno));
  for (int i = 0; i < n && (long)out_len < max; i++) {
    struct stat st;
    const char *name = names[i]->d_name;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
    int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    char mode[16];
    int m = snprintf(mode, sizeof mode, "%o", (unsigned)(st.st_mode & 07777));
    put(name, strlen(name));
    put("\t", 1);
    put(mode, (size_t)m);
    put("\t", 1);
    size_t before = out_len;
    if (slurp(fd, 200) < 0) out_len = before;
    // the queue's info line ends in a newline of its own: one line per queue
    while (out_len > before && (out[out_len - 1] == '\n')) out_len--;
    for (size_t k = before; k < out_len; k++) if (out[k] == '\n' || out[k] == '\t') out[k] = ' ';
    put("\n", 1);
    close(fd);
  }
  answer(0);
}

static void op_sysctl(const char *pid, const char *rel, long max) {
  if (rel[0] == '/' || strstr(rel, "..")) fail(3, "bad sysctl path %s", rel);
  join_ns(pid, "ns/ipc", CLONE_NEWIPC);
  join_ns(pid, "ns/uts", CLONE_NEWUTS);
  join_ns(pid, "ns/net", CLONE_NEWNET);
  char path[MAX_ARG + 16];
  snprintf(path, sizeof path, "/proc/sys/%s", rel);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(3, "%s: %s", path, strerror(errno));
  if (slurp(fd, max) < 0) fail(3, "read %s: %s", path, strerror(errno));
  answer(0);
}

/* ---- net: rtnetlink dumps ------------------------------------------------ */

static void put_str(const char *s) { put(s, strlen(s)); }

static void putf(const char *fmt, ...) {
  char b[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  if (n > 0) put(b, (size_t)n >= sizeof b ? sizeof b - 1 : (size_t)n);
}

/** an address attribute as text: inet_ntop for IPv4/IPv6, "-" for anything else */
static void put_ip(int family, const struct rtattr *a) {
  char b[INET6_ADDRSTRLEN];
  size_t want = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
  if (!a || !want || RTA_PAYLOAD(a) < want || !inet_ntop(family, RTA_DATA(a), b, sizeof b)) { put_str("-"); return; }
  put_str(b);
}

static void put_hw(const struct rtattr *a) {
  if (!a || RTA_PAYLOAD(a) == 0) { put_str("-"); return; }
  const unsigned char *d = RTA_DATA(a);
  for (size_t i = 0; i < RTA_PAYLOAD(a) && i < 32; i++) putf(i ? ":%02x" : "%02x", d[i]);
}

/** interface names cannot hold whitespace (dev_valid_name), so a tab or newline here is a bug: "-" then */
static void put_name(const struct rtattr *a) {
  if (!a || RTA_PAYLOAD(a) == 0) { put_str("-"); return; }
  const char *n = RTA_DATA(a);
  size_t len = strnlen(n, RTA_PAYLOAD(a));
  for (size_t i = 0; i < len; i++) if ((unsigned char)n[i] <= ' ') { put_str("-"); return; }
  put(n, len);
}

static long u32_attr(const struct rtattr *a, long none) {
  return a && RTA_PAYLOAD(a) >= 4 ? (long)*(const unsigned int *)RTA_DATA(a) : none;
}

static long s32_attr(const struct rtattr *a, long none) {
  return a && RTA_PAYLOAD(a) >= 4 ? (long)*(const int *)RTA_DATA(a) : none;
}

#define MAX_ATTR 64
static void parse_attrs(struct rtattr **tb, struct rtattr *a, int len) {
  memset(tb, 0, sizeof(struct rtattr *) * (MAX_ATTR + 1));
  for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    unsigned short t = a->rta_type & ~NLA_F_NESTED;
    if (t <= MAX_ATTR && !tb[t]) tb[t] = a;
  }
}

/*
 * link  INDEX NAME FLAGS(hex) OPERSTATE TYPE(ARPHRD) KIND MASTER LINK LINK_NETNSID MAC
 *   KIND: IFLA_INFO_KIND ("veth", "bridge", ...) or "-"; MASTER, LINK: ifindex or 0;
 *   LINK_NETNSID: -1 when the peer (IFLA_LINK) is in this same namespace
 */
/** links whose peer (IFLA_LINK) is in another namespace, to be looked up there after the dump */
#define MAX_REMOTE 256
static struct { int index, peer, nsid; } remote[MAX_REMOTE];
static int n_remote;

static void on_link(struct nlmsghdr *h) {
  struct ifinfomsg *ifi = NLMSG_DATA(h);
  struct rtattr *tb[MAX_ATTR + 1], *info[MAX_ATTR + 1];
  parse_attrs(tb, IFLA_RTA(ifi), (int)IFLA_PAYLOAD(h));
  if (tb[IFLA_LINK_NETNSID] && s32_attr(tb[IFLA_LINK_NETNSID], -1) >= 0 && s32_attr(tb[IFLA_LINK], 0) > 0 && n_remote < MAX_REMOTE) {
    remote[n_remote].index = ifi->ifi_index;
    remote[n_remote].peer = (int)s32_attr(tb[IFLA_LINK], 0);
    remote[n_remote].nsid = (int)s32_attr(tb[IFLA_LINK_NETNSID], -1);
    n_remote++;
  }
  putf("link\t%d\t", ifi->ifi_index);
  put_name(tb[IFLA_IFNAME]);
  putf("\t%x\t%u\t%u\t", ifi->ifi_flags, tb[IFLA_OPERSTATE] ? *(unsigned char *)RTA_DATA(tb[IFLA_OPERSTATE]) : 0, ifi->ifi_type);
  memset(info, 0, sizeof info);
  if (tb[IFLA_LINKINFO]) parse_attrs(info, RTA_DATA(tb[IFLA_LINKINFO]), (int)RTA_PAYLOAD(tb[IFLA_LINKINFO]));
  put_name(info[IFLA_INFO_KIND]);
  putf("\t%ld\t%ld\t%ld\t", u32_attr(tb[IFLA_MASTER], 0), s32_attr(tb[IFLA_LINK], 0), s32_attr(tb[IFLA_LINK_NETNSID], -1));
  put_hw(tb[IFLA_ADDRESS]);
  put_str("\n");
}

/** addr  INDEX FAMILY PREFIXLEN SCOPE ADDRESS (IFA_LOCAL if present, else IFA_ADDRESS) */
static void on_addr(struct nlmsghdr *h) {
  struct ifaddrmsg *ifa = NLMSG_DATA(h);
  struct rtattr *tb[MAX_ATTR + 1];
  parse_attrs(tb, IFA_RTA(ifa), (int)IFA_PAYLOAD(h));
  putf("addr\t%u\t%u\t%u\t%u\t", ifa->ifa_index, ifa->ifa_family, ifa->ifa_prefixlen, ifa->ifa_scope);
  put_ip(ifa->ifa_family, tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS]);
  put_str("\n");
}

/** route  FAMILY TABLE TYPE SCOPE PROTOCOL DST DSTLEN OIF GATEWAY PREFSRC */
static void on_route(struct nlmsghdr *h) {
  struct rtmsg *rt = NLMSG_DATA(h);
  struct rtattr *tb[MAX_ATTR + 1];
  parse_attrs(tb, RTM_RTA(rt), (int)RTM_PAYLOAD(h));
  putf("route\t%u\t%ld\t%u\t%u\t%u\t", rt->rtm_family, u32_attr(tb[RTA_TABLE], rt->rtm_table), rt->rtm_type, rt->rtm_scope, rt->rtm_protocol);
  put_ip(rt->rtm_family, tb[RTA_DST]);
  putf("\t%u\t%ld\t", rt->rtm_dst_len, u32_attr(tb[RTA_OIF], 0));
  put_ip(rt->rtm_family, tb[RTA_GATEWAY]);
  put_str("\t");
  put_ip(rt->rtm_family, tb[RTA_PREFSRC]);
  put_str("\n");
}

/** neigh  INDEX FAMILY STATE(NUD_* bits) DST LLADDR */
static void on_neigh(struct nlmsghdr *h) {
  struct ndmsg *nd = NLMSG_DATA(h);
  struct rtattr *tb[MAX_ATTR + 1];
  parse_attrs(tb, (struct rtattr *)((char *)nd + NLMSG_ALIGN(sizeof *nd)), (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *nd)));
  putf("neigh\t%d\t%u\t%u\t", nd->ndm_ifindex, nd->ndm_family, nd->ndm_state);
  put_ip(nd->ndm_family, tb[NDA_DST]);
  put_str("\t");
  put_hw(tb[NDA_LLADDR]);
  put_str("\n");
}

static void dump(int sock, unsigned short type, const void *body, size_t body_len, void (*each)(struct nlmsghdr *), long max) {
  static unsigned seq;
  struct { struct nlmsghdr h; char body[64]; } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = NLMSG_LENGTH(body_len);
  req.h.nlmsg_type = type;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = ++seq;
  memcpy(req.body, body, body_len);
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  if (sendto(sock, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) fail(3, "netlink send: %s", strerror(errno));
  static char buf[65536];
  for (;;) {
    ssize_t n = recv(sock, buf, sizeof buf, 0);
    if (n < 0) { if (errno == EINTR) continue; fail(3, "netlink recv: %s", strerror(errno)); }
    if (n == 0) fail(3, "netlink: end of stream");
    int len = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) return;
      if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = NLMSG_DATA(h);
        fail(3, "netlink dump %u: %s", type, strerror(-e->error));
      }
      if ((long)out_len < max) each(h);
    }
  }
}

/*
 * peer  INDEX MAC: the link-layer address of the peer of local link INDEX, read in the
 * peer's namespace through IFLA_TARGET_NETNSID (a namespace id is only meaningful
 * inside the namespace that assigned it, so the request is made from here). A peer's
 * index alone is ambiguous across namespaces; index and MAC together name it.
 */
static void put_remote_peers(int sock) {
  static char buf[65536];
  for (int i = 0; i < n_remote; i++) {
    struct { struct nlmsghdr h; struct ifinfomsg ifi; char attrs[64]; } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_type = RTM_GETLINK;
    req.h.nlmsg_flags = NLM_F_REQUEST;
    req.h.nlmsg_seq = 100000 + (unsigned)i;
    req.ifi.ifi_family = AF_UNSPEC;
    req.ifi.ifi_index = remote[i].peer;
    struct rtattr *a = (struct rtattr *)req.attrs;
    a->rta_type = IFLA_TARGET_NETNSID;
    a->rta_len = RTA_LENGTH(sizeof(int));
    memcpy(RTA_DATA(a), &remote[i].nsid, sizeof(int));
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.ifi) + RTA_ALIGN(a->rta_len);
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    if (sendto(sock, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) fail(3, "netlink send: %s", strerror(errno));
    ssize_t n;
    do n = recv(sock, buf, sizeof buf, 0); while (n < 0 && errno == EINTR);
    if (n < 0) fail(3, "netlink recv: %s", strerror(errno));
    int len = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      // an error (the peer went away meanwhile) leaves this peer without a MAC
      if (h->nlmsg_seq != req.h.nlmsg_seq || h->nlmsg_type != RTM_NEWLINK) continue;
      struct ifinfomsg *ifi = NLMSG_DATA(h);
      struct rtattr *tb[MAX_ATTR + 1];
      parse_attrs(tb, IFLA_RTA(ifi), (int)IFLA_PAYLOAD(h));
      putf("peer\t%d\t", remote[i].index);
      put_hw(tb[IFLA_ADDRESS]);
      put_str("\n");
    }
  }
}

/*
 * One record per line, fields separated by tabs; the first field names the record:
 * "ns INODE" first, then link, peer, addr, route and neigh lines (see on_link ...).
 * Numbers are the kernel's own (ARPHRD_*, IF_OPER_*, RT_TABLE_*, RTN_*, RT_SCOPE_*,
 * NUD_*): lab-server/sandbox/net-state.ts names them.
 */
static void op_net(const char *pid, const char *pinned, long max) {
  int nsfd;
  if (pinned[0]) {
    int rootfd = open_proc(pid, "root", O_PATH | O_DIRECTORY);
    int userfd = open_proc(pid, "ns/user", O_RDONLY);
    int mntfd = open_proc(pid, "ns/mnt", O_RDONLY);
    if (rootfd < 0 || userfd < 0 || mntfd < 0) fail(3, "open target %s: %s", pid, strerror(errno));
    clearenv();
    if (setns(userfd, CLONE_NEWUSER) != 0) fail(3, "setns user: %s", strerror(errno));
    if (setns(mntfd, CLONE_NEWNS) != 0) fail(3, "setns mnt: %s", strerror(errno));
    if (fchdir(rootfd) != 0 || chroot(".") != 0 || chdir("/") != 0) fail(3, "chroot: %s", strerror(errno));
    if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) fail(3, "setresuid: %s", strerror(errno));
    nsfd = open(pinned, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (nsfd < 0) { int e = errno; fail((e == ENOENT || e == ENOTDIR) ? 2 : 3, "%s: %s", pinned, strerror(e)); }
  } else {
    nsfd = open_proc(pid, "ns/net", O_RDONLY);
    if (nsfd < 0) fail(3, "open /proc/%s/ns/net: %s", pid, strerror(errno));
  }
  struct stat st;
  struct statfs sfs;
  if (fstat(nsfd, &st) != 0 || fstatfs(nsfd, &sfs) != 0) fail(3, "stat namespace: %s", strerror(errno));
  if (sfs.f_type != NSFS_MAGIC) fail(4, "%s: not a namespace file", pinned[0] ? pinned : "ns/net");
  if (setns(nsfd, CLONE_NEWNET) != 0) fail(4, "setns net: %s", strerror(errno));
  close(nsfd);
  int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (sock < 0) fail(3, "netlink socket: %s", strerror(errno));
  putf("ns\t%lu\n", (unsigned long)st.st_ino);
  struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
  dump(sock, RTM_GETLINK, &ifi, sizeof ifi, on_link, max);
  put_remote_peers(sock);
  struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };
  dump(sock, RTM_GETADDR, &ifa, sizeof ifa, on_addr, max);
  struct rtmsg rt = { .rtm_family = AF_UNSPEC };
  dump(sock, RTM_GETROUTE, &rt, sizeof rt, on_route, max);
  struct ndmsg nd = { .ndm_family = AF_UNSPEC };
  dump(sock, RTM_GETNEIGH, &nd, sizeof nd, on_neigh, max);
  answer(0);
}

static void serve(const char *op, const char *pid, long max, const char *arg) {
  // a fork that hangs (a stuck read) dies here; the parent answers for it
  alarm(FORK_TIMEOUT_S);
  if (strcmp(op, "read") == 0) op_read(pid, arg, max);
  else if (strcmp(op, "ipc") == 0) op_ipc(pid, max);
  else if (strcmp(op, "mq") == 0) op_mq(pid, max);
  else if (strcmp(op, "sysctl") == 0) op_sysctl(pid, arg, max);
  else if (strcmp(op, "net") == 0) op_net(pid, arg, max);
  fail(3, "unknown request %s", op);
}

int main(void) {
  char line[256];
  static char arg[MAX_ARG + 1];
  signal(SIGPIPE, SIG_DFL);
  while (fgets(line, sizeof line, stdin)) {
    char op[16], pid[16];
    long max;
    size_t arglen;
    if (sscanf(line, "%15s %15s %ld %zu", op, pid, &max, &arglen) != 4 || arglen > MAX_ARG) return 3;
    for (const char *c = pid; *c; c++) if (*c < '0' || *c > '9') return 3;
    if (arglen && fread(arg, 1, arglen, stdin) != arglen) return 3;
    arg[arglen] = 0;
    if (strlen(arg) != arglen) return 3;
    if (max <= 0 || max > (1L << 24)) max = 1L << 20;
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) return 3;
    if (child == 0) serve(op, pid, max, arg);
    int status;
    while (waitpid(child, &status, 0) < 0) if (errno != EINTR) return 3;
    // a fork that died before answering: answer for it, or the stream loses its framing
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      const char *msg = WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? "timed out" : "helper failed";
      printf("3 %zu\n%s", strlen(msg), msg);
      fflush(stdout);
    }
  }
  return 0;
}
