using System.Diagnostics;

namespace EcrCache.Tasks.Tests.Scripts
{
    /// <summary>
    /// build/start-services.sh when the running docker daemon has lost its docker0 bridge. The daemon here is a
    /// stand-in (a sleeping process whose command line says "dockerd", and a docker script that answers "info"): a
    /// real daemon cannot be made to lose its bridge without disturbing every other test. pkill, pgrep and killall
    /// are recording stubs first on PATH, so a script that reaches for them cannot touch the machine's real dockerd.
    /// </summary>
    [TestClass]
    public sealed class StartServicesScriptTests
    {
        private string _root = "";
        private string _state = "";
        private string _net = "";
        private string _stubs = "";
        private string _stubLog = "";
        private readonly List<int> _pids = new List<int>();

        [TestInitialize]
        public void SetUp()
        {
            _root = TestPaths.NewTempDirectory("ecrcache-services-test");
            _state = Path.Combine(_root, "state");
            _net = Path.Combine(_root, "net");
            _stubs = Path.Combine(_root, "stubs");
            _stubLog = Path.Combine(_root, "stub-calls.log");
            Directory.CreateDirectory(_state);
            Directory.CreateDirectory(_net);
            Directory.CreateDirectory(_stubs);
            Directory.CreateDirectory(Path.Combine(_net, "eth0"));

            foreach (var name in new[] { "pkill", "pgrep", "killall" })
            {
                WriteScript(Path.Combine(_stubs, name), "echo \"" + name + " $*\" >> '" + _stubLog + "'\nexit 1\n");
            }

            // The docker client stand-in: the daemon answers while a stand-in dockerd runs.
            WriteScript(Path.Combine(_root, "docker"), "case \"$1\" in\n  info) [ \"$2\" = --format ] && echo stand-in-daemon; exit 0 ;;\n  *) exit 1 ;;\nesac\n");

            // The dockerd stand-in started on a restart: like a real daemon it may answer "info" before its network
            // is set up, so it brings its bridge up a little later, then runs until stopped.
            WriteScript(Path.Combine(_root, "dockerd"), "sleep 1\nmkdir -p \"$ECRCACHE_SYS_CLASS_NET/docker0\"\nexec -a stand-in-dockerd sleep 600\n");
        }

        [TestCleanup]
        public void TearDown()
        {
            foreach (var pid in _pids.Concat(ReadPid()).Distinct())
            {
                try
                {
                    Process.GetProcessById(pid).Kill();
                }
                catch (ArgumentException)
                {
                }
                catch (InvalidOperationException)
                {
                }
            }
        }

        [TestMethod]
        public void ForeignDaemonWithoutBridge_IsLeftAlone_AndTheScriptSaysWhatToDo()
        {
            var foreign = StartStandInDaemon();

            var (exitCode, stderr) = RunScript();

            Assert.AreNotEqual(0, exitCode, stderr);
            StringAssert.Contains(stderr, "has no docker0 bridge");
            StringAssert.Contains(stderr, "did not start that daemon");
            StringAssert.Contains(stderr, "systemctl restart docker");
            StringAssert.Contains(stderr, "ECRCACHE_SKIP_BRIDGE_CHECK=1");
            Assert.IsTrue(IsAlive(foreign), "a daemon the script did not start must keep running");
            Assert.IsFalse(File.Exists(_stubLog), "no process may be signalled by name: " + (File.Exists(_stubLog) ? File.ReadAllText(_stubLog) : ""));
            Assert.IsFalse(File.Exists(Path.Combine(_state, "dockerd.started-by-ecrcache")), "nothing was started");
        }

        [TestMethod]
        public void OwnDaemonWithoutBridge_IsRestartedByItsPid()
        {
            var own = StartStandInDaemon();
            File.WriteAllText(Path.Combine(_state, "dockerd.pid"), own + "\n");
            File.WriteAllText(Path.Combine(_state, "dockerd.started-by-ecrcache"), "");
            var bystander = StartStandInDaemon();

            var (exitCode, stderr) = RunScript();

            Assert.AreEqual(0, exitCode, stderr);
            StringAssert.Contains(stderr, "lost its docker0 bridge; restarting it");
            Assert.IsTrue(WaitUntilGone(own), "the daemon this script started is stopped by its pid");
            var restarted = ReadPid().Single();
            Assert.AreNotEqual(own, restarted);
            Assert.IsTrue(WaitUntilAlive(restarted), "a new daemon runs");
            Assert.IsTrue(Directory.Exists(Path.Combine(_net, "docker0")), "the new daemon's bridge is up");
            Assert.IsTrue(File.Exists(Path.Combine(_state, "dockerd.started-by-ecrcache")), "the new daemon is recorded as the script's");
            Assert.IsTrue(IsAlive(bystander), "another process that looks like dockerd is not touched");
            Assert.IsFalse(File.Exists(_stubLog), "no process may be signalled by name");
        }

        [TestMethod]
        public void DaemonWithBridge_IsReused()
        {
            Directory.CreateDirectory(Path.Combine(_net, "docker0"));
            var daemon = StartStandInDaemon();

            var (exitCode, stderr) = RunScript();

            Assert.AreEqual(0, exitCode, stderr);
            StringAssert.Contains(stderr, "docker daemon is running; reusing it");
            Assert.IsTrue(IsAlive(daemon));
            Assert.IsFalse(File.Exists(Path.Combine(_state, "dockerd.pid")), "nothing was started");
        }

        [TestMethod]
        public void SkipBridgeCheck_ReusesADaemonWithoutBridge()
        {
            var daemon = StartStandInDaemon();

            var (exitCode, stderr) = RunScript(("ECRCACHE_SKIP_BRIDGE_CHECK", "1"));

            Assert.AreEqual(0, exitCode, stderr);
            StringAssert.Contains(stderr, "reusing it");
            Assert.IsTrue(IsAlive(daemon));
        }

        private (int ExitCode, string Stderr) RunScript(params (string Name, string Value)[] extra)
        {
            var psi = new ProcessStartInfo("bash")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
            };
            psi.ArgumentList.Add(Path.Combine(TestPaths.RepoRoot, "build", "start-services.sh"));
            psi.ArgumentList.Add("--only");
            psi.ArgumentList.Add("dockerd");
            psi.Environment["PATH"] = _stubs + ":" + Environment.GetEnvironmentVariable("PATH");
            psi.Environment["ECRCACHE_STATE_DIR"] = _state;
            psi.Environment["ECRCACHE_DOCKER"] = Path.Combine(_root, "docker");
            psi.Environment["ECRCACHE_DOCKERD"] = Path.Combine(_root, "dockerd");
            psi.Environment["ECRCACHE_SYS_CLASS_NET"] = _net;
            psi.Environment.Remove("DOCKER_HOST");
            psi.Environment.Remove("ECRCACHE_SKIP_BRIDGE_CHECK");
            foreach (var (name, value) in extra)
            {
                psi.Environment[name] = value;
            }

            using var process = Process.Start(psi)!;
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(90_000))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail("start-services.sh did not finish: " + stderr.Result);
            }

            process.WaitForExit();
            return (process.ExitCode, stderr.Result + stdout.Result);
        }

        /// <summary>A process whose command line contains "dockerd", detached so that stopping it leaves no zombie here.</summary>
        private int StartStandInDaemon()
        {
            var pidFile = Path.Combine(_root, "standin-" + Guid.NewGuid().ToString("N") + ".pid");
            var psi = new ProcessStartInfo("setsid") { UseShellExecute = false, RedirectStandardInput = true };
            psi.ArgumentList.Add("-f");
            psi.ArgumentList.Add("bash");
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("echo $$ > '" + pidFile + "'; exec -a stand-in-dockerd sleep 600 </dev/null >/dev/null 2>&1");
            using (var launcher = Process.Start(psi)!)
            {
                launcher.StandardInput.Close();
                launcher.WaitForExit(10_000);
            }

            for (var i = 0; i < 100 && !(File.Exists(pidFile) && File.ReadAllText(pidFile).Trim().Length > 0); i++)
            {
                Thread.Sleep(50);
            }

            var pid = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            _pids.Add(pid);

            Assert.IsTrue(WaitUntilAlive(pid), "the stand-in daemon runs");
            return pid;
        }

        private IEnumerable<int> ReadPid()
        {
            var file = Path.Combine(_state, "dockerd.pid");
            return File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), out var pid) ? new[] { pid } : Array.Empty<int>();
        }

        private static bool IsAlive(int pid)
        {
            // A process counts while /proc shows it running with its stand-in command line (not a zombie).
            var cmdline = "/proc/" + pid + "/cmdline";
            try
            {
                return File.Exists(cmdline) && File.ReadAllText(cmdline).Contains("dockerd", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
        }

        /// <summary>A pid file is written before the exec, and while the exec runs /proc shows an empty command line.</summary>
        private static bool WaitUntilAlive(int pid)
        {
            for (var i = 0; i < 100 && !IsAlive(pid); i++)
            {
                Thread.Sleep(50);
            }

            return IsAlive(pid);
        }

        private static bool WaitUntilGone(int pid)
        {
            for (var i = 0; i < 200; i++)
            {
                if (!IsAlive(pid))
                {
                    return true;
                }

                Thread.Sleep(50);
            }

            return false;
        }

        private static void WriteScript(string path, string body)
        {
            File.WriteAllText(path, "#!/usr/bin/env bash\n" + body);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        }
    }
}
