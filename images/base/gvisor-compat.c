/*
 * Smooths over two bugs of gVisor as Debian 12 ships it (runsc 20221219). boxd preloads this in gVisor
 * boxes only (/etc/ld.so.preload, written at create). Both wrappers change nothing that works: they act
 * only after the exact failure, which a correct kernel never gives.
 *
 * 1. statx() answers EINVAL when the flags carry AT_NO_AUTOMOUNT, which coreutils 9.7 (ls, stat, cp)
 *    always passes: `ls -l` fails. Retried without the flag (a container has no automount points).
 * 2. With host networking (boxd's gVisor mode), read()/write() on a *blocking* socket answer EAGAIN when
 *    no data is ready or the send buffer is full (recv()/send() block correctly): `cat <&3` on a bash
 *    /dev/tcp socket, `head -c 20M /dev/zero >/dev/tcp/...` and os.read() on a socket fail at random.
 *    On EAGAIN from a descriptor without O_NONBLOCK the wrapper waits with poll() (for the socket's
 *    SO_RCVTIMEO/SO_SNDTIMEO when one is set, which is the only time Linux gives EAGAIN there) and retries.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <stdlib.h>
#include <unistd.h>

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
  long r = syscall(SYS_statx, dirfd, path, flags, mask, buf);
  if (r == -1 && errno == EINVAL && (flags & AT_NO_AUTOMOUNT))
    r = syscall(SYS_statx, dirfd, path, flags & ~AT_NO_AUTOMOUNT, mask, buf);
  return (int)r;
}

/* The socket's timeout for this direction in ms, or -1 (wait for ever) when it has none. */
static int socket_timeout_ms(int fd, short events) {
  struct timeval tv;
  socklen_t len = sizeof tv;
  int opt = (events & POLLIN) ? SO_RCVTIMEO : SO_SNDTIMEO;
  if (getsockopt(fd, SOL_SOCKET, opt, &tv, &len) != 0) return -1;
  if (tv.tv_sec == 0 && tv.tv_usec == 0) return -1;
  return (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
}

/*
 * After a call failed with `err`: 1 when it should be retried (a spurious EAGAIN on a blocking descriptor
 * that is now ready), 0 when its failure stands (errno is then what the caller must see).
 */
static int wait_if_spurious(int fd, int err, short events) {
  if (err != EAGAIN) return 0;
  int fl = fcntl(fd, F_GETFL);
  if (fl == -1 || (fl & O_NONBLOCK)) {
    errno = err;
    return 0;
  }
  struct pollfd p = {.fd = fd, .events = events};
  int n = poll(&p, 1, socket_timeout_ms(fd, events));
  if (n == 0) errno = EAGAIN; /* the socket's own timeout ran out, as Linux reports it */
  return n > 0;               /* n < 0: poll's errno (EINTR when a signal came) stands */
}

typedef ssize_t (*io_fn)(int, void *, size_t);
typedef ssize_t (*iov_fn)(int, const struct iovec *, int);

static ssize_t retry_io(const char *name, int fd, void *buf, size_t n, short events) {
  static io_fn real_read, real_write;
  io_fn *slot = (events & POLLIN) ? &real_read : &real_write;
  if (!*slot) *slot = (io_fn)dlsym(RTLD_NEXT, name);
  for (;;) {
    ssize_t r = (*slot)(fd, buf, n);
    if (r >= 0 || !wait_if_spurious(fd, errno, events)) return r;
  }
}

static ssize_t retry_iov(const char *name, int fd, const struct iovec *iov, int cnt, short events) {
  static iov_fn real_readv, real_writev;
  iov_fn *slot = (events & POLLIN) ? &real_readv : &real_writev;
  if (!*slot) *slot = (iov_fn)dlsym(RTLD_NEXT, name);
  for (;;) {
    ssize_t r = (*slot)(fd, iov, cnt);
    if (r >= 0 || !wait_if_spurious(fd, errno, events)) return r;
  }
}

ssize_t read(int fd, void *buf, size_t n) { return retry_io("read", fd, buf, n, POLLIN); }
ssize_t write(int fd, const void *buf, size_t n) { return retry_io("write", fd, (void *)buf, n, POLLOUT); }
ssize_t readv(int fd, const struct iovec *iov, int cnt) { return retry_iov("readv", fd, iov, cnt, POLLIN); }
ssize_t writev(int fd, const struct iovec *iov, int cnt) { return retry_iov("writev", fd, iov, cnt, POLLOUT); }

/* Fortified builds (_FORTIFY_SOURCE) call this instead of read(); glibc's own would bypass the wrapper. */
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen) {
  if (n > buflen) abort();
  return read(fd, buf, n);
}
