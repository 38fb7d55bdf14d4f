# Drives an interactive program through a pseudo-terminal like a person at a keyboard: waits for a
# prompt, types a line, collects everything the terminal shows. Used to compare `bash -i` natively
# and in the Sentry. Usage: pty_drive.py (bash job-control session, fixed script).
import os, pty, re, select, sys, time

pid, fd = pty.fork()
if pid == 0:
    os.execve("/bin/bash", ["bash", "--norc", "--noprofile", "-i"],
              {"PATH": "/usr/bin:/bin", "PS1": "$ ", "TERM": "dumb", "LANG": "C"})
    os._exit(127)

out = b""

def expect(marker, timeout=10.0):
    """Reads until `marker` appears in output that arrived after this call began."""
    global out
    start = len(out)
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if not r:
            continue
        try:
            d = os.read(fd, 4096)
        except OSError:
            return False
        if not d:
            return False
        out += d
        if marker is not None and marker in out[start:]:
            return True
    return False

def wait_foreground_job(timeout=10.0):
    """Waits until a job, not the shell, is the terminal's foreground process group."""
    end = time.time() + timeout
    while time.time() < end:
        if os.tcgetpgrp(fd) != pid:
            expect(None, 0.2)   # let it reach its exec; collect any output meanwhile
            return True
        expect(None, 0.02)
    return False

def send(line, marker=b"$ "):
    os.write(fd, line)
    return expect(marker)

ok = expect(b"$ ")
ok &= send(b"echo $((6*7))\n")
ok &= send(b"sleep 10 &\n")
ok &= send(b"jobs\n")
ok &= send(b"kill %1; wait %1; echo status $?\n")
ok &= send(b"jobs\n")
ok &= send(b"stty -echo; echo quiet; stty echo\n")
# ^C interrupts the foreground job; ^Z stops it, fg resumes it; ^D ends cat's input.
os.write(fd, b"sleep 5\n"); ok &= wait_foreground_job()
ok &= send(b"\x03")
os.write(fd, b"sleep 6\n"); ok &= wait_foreground_job()
ok &= send(b"\x1a")
ok &= send(b"fg\n", b"sleep 6")
ok &= wait_foreground_job()
ok &= send(b"\x03")
os.write(fd, b"cat\n"); ok &= wait_foreground_job()
ok &= send(b"abc\n", b"abc\r\nabc")
ok &= send(b"\x04")
os.write(fd, b"exit\n")
expect(None, 2)
_, st = os.waitpid(pid, 0)
text = re.sub(rb"\[(\d)\]\+? +\d+", rb"[\1] PID", out).decode("utf-8", "replace")
sys.stdout.write(text)
print("\nall prompts seen:", bool(ok), "exit status:", os.waitstatus_to_exitcode(st))
