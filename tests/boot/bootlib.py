"""tests/boot/bootlib.py - the serial-console driver the boot tests share.

Console runs bt86 with COM1 on a pseudo-terminal we own (--serial stdio on
the slave side), keeps a log of everything the guest printed, and offers
wait_for (a marker), command (run a shell command, return its output) and
poweroff (type `poweroff -f`, return bt86's exit status).
boot_and_poweroff is the sequence of the BIOS-path tests: loader banner,
the guest's init marker, its shell, then an ACPI power-off.
"""
import os, pty, re, select, subprocess, time

PROMPT = re.compile(rb"[#$] (\x1b\[6n)?$")   # ash follows its prompt with ESC[6n


class Console:
    def __init__(self, argv, log_path, stderr_path=None):
        self.master, slave = pty.openpty()
        self.stderr_path = stderr_path
        err = open(stderr_path, "wb") if stderr_path else subprocess.PIPE
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=err, close_fds=True)
        os.close(slave)
        self.buf = b""
        self.log = open(log_path, "wb")
        self.seq = 0

    def read_until(self, pattern, timeout):
        """Wait for `pattern` (bytes: a substring; or a compiled regex);
        return the output up to its end and drop it from the buffer, or None."""
        if isinstance(pattern, bytes):
            pattern = re.compile(re.escape(pattern))
        end = time.time() + timeout
        while True:
            m = pattern.search(self.buf)
            if m:
                out, self.buf = self.buf[:m.end()], self.buf[m.end():]
                return out
            if time.time() >= end:
                return None
            r, _, _ = select.select([self.master], [], [], 0.2)
            if r:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    data = b""
                if not data and self.proc.poll() is not None:
                    return None
                self.buf += data
                self.log.write(data)
                self.log.flush()
            elif self.proc.poll() is not None:
                return None

    def wait_for(self, marker, timeout):
        return self.read_until(marker, timeout) is not None

    def send(self, text):
        os.write(self.master, text.encode())

    def command(self, cmd, timeout=60):
        """Run cmd; return its output (between markers whose quoting makes
        the terminal's echo of the command line differ from the output)."""
        self.seq += 1
        begin, end = "@@B%d@@" % self.seq, "@@E%d@@" % self.seq
        self.send("echo '@@B%d''@@'; %s; echo '@@E%d''@@'\n" % (self.seq, cmd, self.seq))
        out = self.read_until(re.compile(re.escape(end.encode()) + rb"\r*\n"), timeout)
        if out is None:
            return None
        text = out.decode(errors="replace")
        i = text.rfind(begin)
        body = text[i + len(begin):] if i >= 0 else text
        body = body.replace(end, "").replace("\r", "")
        self.read_until(PROMPT, 5)
        return body.strip("\n")

    def poweroff(self, timeout=120):
        """Type poweroff -f; bt86's exit status, or None if it did not exit."""
        time.sleep(1)
        self.send("poweroff -f\n")
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None

    def stderr_text(self):
        if self.stderr_path:
            return open(self.stderr_path, errors="replace").read()
        return self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def boot_and_poweroff(con, prefix, loader_banner, started_name):
    """Loader banner, the guest's init and shell, ACPI power-off: PASS/FAIL lines
    <started_name>, <prefix>_linux_init_started, <prefix>_acpi_poweroff."""
    t0 = time.time()
    ok = con.wait_for(loader_banner, 60)
    print(("PASS" if ok else "FAIL") + " " + started_name, flush=True)
    ok = ok and con.wait_for(b"bt86-guest: init started", 400)
    print(("PASS" if ok else "FAIL") + " %s_linux_init_started (%.0f s)" % (prefix, time.time() - t0), flush=True)
    if ok and con.wait_for(b"bt86-guest: shell on the console", 60):
        rc = con.poweroff(60)
        print(("PASS" if rc == 0 else "FAIL") + " %s_acpi_poweroff" % prefix, flush=True)
    else:
        print("FAIL %s_acpi_poweroff: no shell" % prefix, flush=True)
    con.close()
