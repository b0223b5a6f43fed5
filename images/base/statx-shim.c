/*
 * gVisor as Debian 12 ships it (runsc 20221219) answers statx() with EINVAL when the flags carry
 * AT_NO_AUTOMOUNT, which coreutils 9.7 (ls, stat, cp) always passes: in a gVisor box `ls -l` fails.
 * boxd preloads this in gVisor boxes only (/etc/ld.so.preload, written at create). It changes nothing
 * that works: the call is retried without the flag only after that exact failure. A container has no
 * automount points, so the flag means nothing there anyway.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
  long r = syscall(SYS_statx, dirfd, path, flags, mask, buf);
  if (r == -1 && errno == EINVAL && (flags & AT_NO_AUTOMOUNT))
    r = syscall(SYS_statx, dirfd, path, flags & ~AT_NO_AUTOMOUNT, mask, buf);
  return (int)r;
}
