/*
 * nslab-reaper [-d] [-g GRACE_MS] [-r RESOURCE=SOFT:HARD]... [-o OOM_SCORE_ADJ] -- COMMAND [ARG]...
 *
 * Runs COMMAND (a `crun run` or `crun exec`) as its child and leaves nothing
 * behind when it ends.
 *
 * Why: crun starts the sandbox's processes as its own children. If crun dies
 * before it has reaped one of them (the server SIGKILLs a terminal, the cgroup
 * sweep kills crun first), the kernel hands the orphan to the host's PID 1,
 * where it lingers as a zombie of the sandbox's uid for as long as PID 1 takes
 * to reap it (seconds on some hosts, never on others). As a child subreaper
 * (PR_SET_CHILD_SUBREAPER) this process gets those orphans instead: it reaps
 * the dead ones, and the ones still alive when COMMAND has ended are killed,
 * because they belonged to it (a closing terminal's shell, a dead runtime's
 * sandbox init).
 *
 * Signals: SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH are passed on to
 * COMMAND, SIGHUP (the terminal hung up) as SIGTERM. SIGTERM also starts a
 * deadline (GRACE_MS, default 3000): if COMMAND is still running then, it gets
 * SIGKILL. So the server only ever needs SIGTERM here; a SIGKILL of this
 * process would orphan crun itself.
 *
 * -r sets a resource limit before COMMAND starts (crun exec hands its own
 * rlimits down to the sandbox's process): core, nofile, nproc, fsize.
 * -o sets COMMAND's OOM score adjustment (-1000..1000; this process keeps its
 * own), what `choom -n` in front of COMMAND did, without a process of its own.
 *
 * -d: COMMAND detaches (`crun run -d`, `crun exec -d`: the runtime starts the
 * sandbox's process and exits, and that process becomes ours). If COMMAND
 * succeeds, what it left is not killed: we stay until the last of it has ended,
 * pass signals on to it (the SIGTERM deadline then SIGKILLs it), and exit with
 * the status of the first one to end (the runtime leaves one process: the
 * sandbox's init, a terminal's script(1); what ends after it are orphans it left). A failed COMMAND ends as without -d. This
 * way no runtime process stays resident beside each sandbox and each terminal.
 *
 * Exit status: COMMAND's (-d: see above); a COMMAND killed by a signal is reported
 * as the same signal. 125 for our own errors, 127 if COMMAND cannot be started.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* SIGWINCH: a detached terminal's script(1) sits in a session of its own and hears of
   a resize only through us (a resident crun exec used to pass it on) */
static const int forwarded[] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

static void usage(void) {
  fprintf(stderr, "usage: nslab-reaper [-d] [-g GRACE_MS] [-r RESOURCE=SOFT:HARD]... [-o OOM_SCORE_ADJ] -- COMMAND [ARG]...\n");
  exit(125);
}

static void set_limit(const char *spec) {
  static const struct { const char *name; int resource; } names[] = {
    { "core", RLIMIT_CORE }, { "nofile", RLIMIT_NOFILE }, { "nproc", RLIMIT_NPROC }, { "fsize", RLIMIT_FSIZE },
  };
  const char *eq = strchr(spec, '=');
  if (!eq) usage();
  int resource = -1;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    if (strlen(names[i].name) == (size_t)(eq - spec) && strncmp(names[i].name, spec, eq - spec) == 0) resource = names[i].resource;
  }
  char *end;
  errno = 0;
  unsigned long long soft = strtoull(eq + 1, &end, 10);
  if (resource < 0 || errno || *end != ':') usage();
  unsigned long long hard = strtoull(end + 1, &end, 10);
  if (errno || *end || soft > hard) usage();
  struct rlimit rl = { .rlim_cur = soft, .rlim_max = hard };
  if (setrlimit(resource, &rl) != 0) {
    fprintf(stderr, "nslab-reaper: setrlimit %s: %s\n", spec, strerror(errno));
    exit(125);
  }
}

/* signal every living child of ours (orphans we adopted); returns how many */
static int signal_adopted(pid_t self, int sig) {
  DIR *proc = opendir("/proc");
  if (!proc) return 0;
  int n = 0;
  struct dirent *e;
  char path[300], buf[512];
  while ((e = readdir(proc))) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(path, "re");
    if (!f) continue;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses */
    char *close = strrchr(buf, ')');
    int ppid;
    char state;
    if (!close || sscanf(close + 1, " %c %d", &state, &ppid) != 2 || ppid != self || state == 'Z') continue;
    if (kill(atoi(e->d_name), sig) == 0) n++;
  }
  closedir(proc);
  return n;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
  long grace_ms = 3000;
  const char *oom_score_adj = NULL;
  int detaches = 0;
  int opt;
  while ((opt = getopt(argc, argv, "+dg:r:o:")) != -1) {
    if (opt == 'd') {
      detaches = 1;
    } else if (opt == 'o') {
      char *end;
      long v = strtol(optarg, &end, 10);
      if (*end || end == optarg || v < -1000 || v > 1000) usage();
      oom_score_adj = optarg;
    } else if (opt == 'g') {
      char *end;
      grace_ms = strtol(optarg, &end, 10);
      if (*end || grace_ms < 0) usage();
    } else if (opt == 'r') {
      set_limit(optarg);
    } else {
      usage();
    }
  }
  if (optind >= argc) usage();

  /* an inherited SIG_IGN would have the kernel reap our children unseen (and COMMAND's status lost) */
  signal(SIGCHLD, SIG_DFL);
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    perror("nslab-reaper: PR_SET_CHILD_SUBREAPER");
    return 125;
  }
  sigset_t waited, previous;
  sigemptyset(&waited);
  sigaddset(&waited, SIGCHLD);
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) sigaddset(&waited, forwarded[i]);
  sigprocmask(SIG_BLOCK, &waited, &previous);

  pid_t child = fork();
  if (child < 0) {
    perror("nslab-reaper: fork");
    return 125;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &previous, NULL);
    if (oom_score_adj) {
      int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write(fd, oom_score_adj, strlen(oom_score_adj)) < 0) {
        fprintf(stderr, "nslab-reaper: oom_score_adj %s: %s\n", oom_score_adj, strerror(errno));
        _exit(125);
      }
      close(fd);
    }
    execvp(argv[optind], argv + optind);
    fprintf(stderr, "nslab-reaper: cannot run %s: %s\n", argv[optind], strerror(errno));
    _exit(127);
  }

  pid_t self = getpid();
  int status = 0;
  int command_status = 0, command_done = 0;
  int first_adopted_status = 0, adopted_ended = 0;
  long long deadline = -1; /* when a SIGTERM'd COMMAND (-d: what it left) gets SIGKILL */
  /* -d: a resize while the runtime still runs reaches only the runtime (which ignores
     it), not the process it is starting, which is not ours yet: by the time that one
     reads its terminal's size the resize may already have happened, or not. So a
     SIGWINCH seen then is passed on once more when COMMAND has ended: one too many
     costs nothing (the same size set again signals no one). */
  int winch_owed = 0;
  for (;;) {
    pid_t pid;
    int st;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
      if (pid == child) { command_status = st; command_done = 1; }
      else if (command_done && !adopted_ended) { first_adopted_status = st; adopted_ended = 1; }
    }
    int staying = command_done && detaches && WIFEXITED(command_status) && WEXITSTATUS(command_status) == 0;
    if (command_done && !staying) { status = command_status; break; }
    if (staying && winch_owed) { signal_adopted(self, SIGWINCH); winch_owed = 0; }
    if (pid < 0 && errno == ECHILD) {
      /* -d: the last of what COMMAND left has ended (without -d: cannot happen, COMMAND is ours) */
      status = staying ? (adopted_ended ? first_adopted_status : command_status) : 125 << 8;
      break;
    }
    struct timespec timeout = { 0, 0 }, *t = NULL;
    if (deadline >= 0) {
      long long left = deadline - now_ms();
      if (left <= 0) {
        if (detaches) signal_adopted(self, SIGKILL); else kill(child, SIGKILL);
        deadline = -1;
        continue;
      }
      timeout.tv_sec = left / 1000;
      timeout.tv_nsec = (left % 1000) * 1000000;
      t = &timeout;
    }
    int sig = t ? sigtimedwait(&waited, NULL, t) : sigwaitinfo(&waited, NULL);
    if (sig <= 0 || sig == SIGCHLD) continue;
    /* a hangup means the terminal is gone: end COMMAND as if asked to (script(1) in
       the sandbox ignores SIGHUP and would keep the shell alive) */
    if (sig == SIGHUP) sig = SIGTERM;
    /* -d: every child of ours, COMMAND included while it lives: a COMMAND that has
       just exited (not reaped yet) must not swallow the signal meant for what it left */
    if (detaches) signal_adopted(self, sig); else kill(child, sig);
    if (sig == SIGWINCH && detaches && !command_done) winch_owed = 1;
    if (sig == SIGTERM && deadline < 0) deadline = now_ms() + grace_ms;
  }

  /* COMMAND has ended: whatever it left to us goes too, and nothing stays unreaped */
  for (;;) {
    signal_adopted(self, SIGKILL);
    pid_t pid = waitpid(-1, NULL, 0);
    if (pid < 0 && errno == ECHILD) break;
  }

  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core); /* COMMAND's core dump, if any, was COMMAND's */
    signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, &previous, NULL);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, sig);
    sigprocmask(SIG_UNBLOCK, &only, NULL);
    raise(sig);
    return 128 + sig;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
}
