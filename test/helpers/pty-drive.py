# Drives a command on a real pseudo-terminal (what a person at a terminal does): sets the window size, waits
# for expected output, sends input, resizes, and exits with the command's exit status. Steps are JSON on
# argv[1]: ["size", rows, cols] | ["send", text] | ["expect", text] | ["wait", ms]. The command follows. Output seen is
# written to stdout at the end, for the test's assertions and failure messages.
import fcntl, json, os, pty, select, struct, sys, termios, time

steps = json.loads(sys.argv[1])
cmd = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
seen = b""

def size(rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

def pump(until, timeout=60):
    global seen
    end = time.time() + timeout
    while until is None or until.encode() not in seen:
        if time.time() > end:
            return False
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return until is None
            if not data:
                return until is None
            seen += data
    return True

ok = True
for step in steps:
    if step[0] == "size":
        size(step[1], step[2])
    elif step[0] == "wait":
        pump("\0never", step[1] / 1000)
    elif step[0] == "send":
        os.write(fd, step[1].encode())
    elif step[0] == "expect":
        if not pump(step[1]):
            ok = False
            sys.stderr.write("did not see %r\n" % step[1])
            break
pump(None, 30)
# Bounded: a command that does not exit is killed (and the test fails on its status).
for _ in range(100):
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    time.sleep(0.1)
else:
    os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    ok = False
    sys.stderr.write("the command did not exit\n")
sys.stdout.write(seen.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status) if ok else 99)
