"""make install PREFIX=... puts the programs, templates and defaults where PREFIX/bin/yubin-setup
finds them, and a production root made from the installed copy has the same service tree."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import TOP, SANITIZED, have


@unittest.skipIf(SANITIZED, "installs the normal build")
@unittest.skipUnless(have("mkmaps"), "needs the programs")
class InstallTest(unittest.TestCase):
    def test_install_then_setup_from_prefix(self):
        prefix = tempfile.mkdtemp(prefix="yubin-prefix-")
        root = tempfile.mkdtemp(prefix="yubin-installed-")
        try:
            r = subprocess.run(["make", "-s", "install", "PREFIX=" + prefix], cwd=TOP,
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            for prog in ("yubin-setup", "yubin-start", "yubin-check", "mkmaps", "mailacct"):
                if os.path.exists(os.path.join(TOP, "bin", prog)):
                    self.assertTrue(os.access(os.path.join(prefix, "bin", prog), os.X_OK), prog)
            env = dict(os.environ, YUBIN_PORT_SMTP="1", YUBIN_PORT_SUBMISSION="2",
                       YUBIN_PORT_SUBMISSIONS="3", YUBIN_PORT_POP3="4", YUBIN_PORT_POP3S="5")
            r = subprocess.run([os.path.join(prefix, "bin", "yubin-setup"), root], env=env,
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            want = sorted(d for d in os.listdir(os.path.join(TOP, "service"))
                          if os.path.isfile(os.path.join(TOP, "service", d, "run")))
            got = sorted(os.listdir(os.path.join(root, "service")))
            self.assertEqual(got, want)
            self.assertTrue(os.path.exists(os.path.join(root, "etc", "plans")))
            self.assertTrue(os.path.exists(os.path.join(root, "cdb", "users.cdb")))
            # settings from every folder's defaults.env were written
            for f in [os.path.join(TOP, d, "defaults.env") for d in os.listdir(TOP)]:
                if os.path.isfile(f):
                    for line in open(f):
                        if "=" in line and not line.startswith("#"):
                            name = line.split("=", 1)[0]
                            self.assertTrue(os.path.exists(os.path.join(root, "etc", "env", name)), name)
        finally:
            shutil.rmtree(prefix, ignore_errors=True)
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
