using System.Text;
using EcrCache.Diagnostics;
using EcrCache.Exports;
using EcrCache.TestSupport;

namespace EcrCache.Tasks.Tests.Exports
{
    [TestClass]
    public sealed class EnvFileWriterTests
    {
        private static KeyValuePair<string, string> Var(string name, string value) => new KeyValuePair<string, string>(name, value);

        [TestMethod]
        [DataRow("bash", "source")]
        [DataRow("sh", ".")]
        public void NastyValuesRoundTripThroughSourcing(string shell, string sourceCommand)
        {
            var dir = TestPaths.NewTempDirectory();
            var marker = Path.Combine(dir, "pwned");
            var values = NastyValues.All(marker);
            var variables = values.Select((v, i) => Var("VALUE_" + i, v)).ToList();
            var file = Path.Combine(dir, "exports.env");

            Assert.IsTrue(EnvFileWriter.Write(file, variables));

            var mismatches = new List<string>();
            foreach (var pair in variables)
            {
                // The form a build step uses: source the file, then read the variable.
                var script = sourceCommand + " " + ShellQuoting.SingleQuote(file) + "; printf %s \"$" + pair.Key + "\"";
                var result = ShellTestHelper.Run(shell, script);
                if (result.ExitCode != 0 || result.Stderr.Length != 0 || !result.Stdout.SequenceEqual(Encoding.UTF8.GetBytes(pair.Value)))
                {
                    mismatches.Add($"{pair.Key}: expected [{pair.Value}] got [{Encoding.UTF8.GetString(result.Stdout)}] exit {result.ExitCode} stderr [{result.Stderr}]");
                }
            }

            Assert.IsFalse(File.Exists(marker), "sourcing the env file executed part of a value");
            Assert.AreEqual(0, mismatches.Count, string.Join("\n", mismatches));
        }

        [TestMethod]
        public void NastyValuesRoundTripThroughDotSourcingInPowerShell()
        {
            var dir = TestPaths.NewTempDirectory();
            var marker = Path.Combine(dir, "pwned");
            var values = NastyValues.All(marker).Concat(NastyValues.PowerShell(marker)).ToList();
            var variables = values.Select((v, i) => Var("VALUE_" + i, v)).ToList();
            var file = Path.Combine(dir, "exports.env.ps1");

            Assert.IsTrue(EnvFileWriter.WritePowerShell(file, variables));

            var read = Pwsh.DotSourceAndRead(file, variables.Select(v => v.Key));
            var mismatches = variables
                .Where(pair => read.GetValueOrDefault(pair.Key) != pair.Value)
                .Select(pair => $"{pair.Key}: expected [{pair.Value}] got [{read.GetValueOrDefault(pair.Key)}]")
                .ToList();
            Assert.IsFalse(File.Exists(marker), "dot-sourcing the PowerShell file executed part of a value");
            Assert.AreEqual(0, mismatches.Count, string.Join("\n", mismatches));
        }

        [TestMethod]
        public void PowerShellFileHasBomHeaderEnvLinesAndLf()
        {
            var dir = TestPaths.NewTempDirectory();
            var file = Path.Combine(dir, "exports.env.ps1");

            EnvFileWriter.WritePowerShell(file, new[] { Var("IMAGE", "repo/app:tag"), Var("TAG", "it's ‘x’") });

            var bytes = File.ReadAllBytes(file);
            CollectionAssert.AreEqual(new byte[] { 0xEF, 0xBB, 0xBF }, bytes.Take(3).ToArray(), "UTF-8 BOM, for Windows PowerShell 5.1");
            var expected =
                "# Written by EcrCache. Dot-source this file in PowerShell: . '" + file + "'\n" +
                "$env:IMAGE = 'repo/app:tag'\n" +
                "$env:TAG = 'it''s ‘‘x’’'\n";
            Assert.AreEqual(expected, Encoding.UTF8.GetString(bytes, 3, bytes.Length - 3));
        }

        [TestMethod]
        public void PowerShellFileIsReplacedOnlyWhenItsContentChanges()
        {
            var dir = TestPaths.NewTempDirectory();
            var file = Path.Combine(dir, "image.env.ps1");
            var variables = new[] { Var("IMAGE", "repo/app:tag") };
            Assert.IsTrue(EnvFileWriter.WritePowerShell(file, variables));
            var old = new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc);
            File.SetLastWriteTimeUtc(file, old);

            Assert.IsFalse(EnvFileWriter.WritePowerShell(file, variables));
            Assert.AreEqual(old, File.GetLastWriteTimeUtc(file));
            Assert.IsTrue(EnvFileWriter.WritePowerShell(file, new[] { Var("IMAGE", "repo/app:other") }));
            CollectionAssert.AreEqual(new[] { file }, Directory.GetFiles(dir), "no temp file may be left behind");
        }

        [TestMethod]
        public void PowerShellFileGoesBesideTheEnvFile()
        {
            Assert.AreEqual(Path.Combine("obj", "ecrcache", "image.env.ps1"), EnvFileWriter.PowerShellPath(Path.Combine("obj", "ecrcache", "image.env")));
        }

        [TestMethod]
        public void VariablesAreExportedToChildProcesses()
        {
            var dir = TestPaths.NewTempDirectory();
            var file = Path.Combine(dir, "exports.env");
            EnvFileWriter.Write(file, new[] { Var("ECRC_IMAGE", "repo/app:abc'def") });

            var result = ShellTestHelper.Run("bash", ". " + ShellQuoting.SingleQuote(file) + "; sh -c 'printf %s \"$ECRC_IMAGE\"'");

            Assert.AreEqual(0, result.ExitCode, result.Stderr);
            Assert.AreEqual("repo/app:abc'def", Encoding.UTF8.GetString(result.Stdout));
        }

        [TestMethod]
        public void FileHasHeaderExportLinesLfAndNoBom()
        {
            var dir = TestPaths.NewTempDirectory();
            var file = Path.Combine(dir, "exports.env");

            EnvFileWriter.Write(file, new[] { Var("IMAGE", "repo/app:tag"), Var("TAG", "it's") });

            var bytes = File.ReadAllBytes(file);
            Assert.AreNotEqual(0xEF, bytes[0], "no UTF-8 byte order mark");
            var expected =
                "# Written by EcrCache. Source this file: . " + file + "\n" +
                "export IMAGE='repo/app:tag'\n" +
                "export TAG='it'\\''s'\n";
            Assert.AreEqual(expected, Encoding.UTF8.GetString(bytes));
        }

        [TestMethod]
        public void HeaderStaysOneCommentLineForOddPaths()
        {
            var dir = Path.Combine(TestPaths.NewTempDirectory(), "with space\nand newline");
            var file = Path.Combine(dir, "exports.env");

            EnvFileWriter.Write(file, new[] { Var("IMAGE", "repo/app:tag") });

            var lines = File.ReadAllText(file).Split('\n');
            StringAssert.StartsWith(lines[0], "# Written by EcrCache. Source this file: . '");
            Assert.AreEqual("export IMAGE='repo/app:tag'", lines[1]);
            var result = ShellTestHelper.Run("bash", "source " + ShellQuoting.SingleQuote(file) + "; printf %s \"$IMAGE\"");
            Assert.AreEqual("repo/app:tag", Encoding.UTF8.GetString(result.Stdout), result.Stderr);
        }

        [TestMethod]
        public void UnchangedContentLeavesTheFileAlone()
        {
            var dir = TestPaths.NewTempDirectory();
            var file = Path.Combine(dir, "exports.env");
            var variables = new[] { Var("IMAGE", "repo/app:tag") };
            Assert.IsTrue(EnvFileWriter.Write(file, variables));
            var old = new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc);
            File.SetLastWriteTimeUtc(file, old);

            Assert.IsFalse(EnvFileWriter.Write(file, variables));
            Assert.AreEqual(old, File.GetLastWriteTimeUtc(file), "an identical write must not touch the file");

            Assert.IsTrue(EnvFileWriter.Write(file, new[] { Var("IMAGE", "repo/app:other") }));
            Assert.AreNotEqual(old, File.GetLastWriteTimeUtc(file));
            StringAssert.Contains(File.ReadAllText(file), "export IMAGE='repo/app:other'\n");
        }

        [TestMethod]
        public void CreatesDirectoriesAndLeavesNoTempFiles()
        {
            var root = TestPaths.NewTempDirectory();
            var file = Path.Combine(root, "a", "b", "exports.env");

            Assert.IsTrue(EnvFileWriter.Write(file, new[] { Var("IMAGE", "x:y") }));
            Assert.IsTrue(EnvFileWriter.Write(file, new[] { Var("IMAGE", "x:z") }));

            CollectionAssert.AreEqual(new[] { file }, Directory.GetFiles(Path.Combine(root, "a", "b")));
        }

        [TestMethod]
        public void FileIsWorldReadableNotExecutable()
        {
            if (OperatingSystem.IsWindows())
            {
                Assert.Inconclusive("unix file modes only");
                return;
            }

            var file = Path.Combine(TestPaths.NewTempDirectory(), "exports.env");
            EnvFileWriter.Write(file, new[] { Var("IMAGE", "x:y") });

            Assert.AreEqual(
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                File.GetUnixFileMode(file));
        }

        [TestMethod]
        [DataRow("")]
        [DataRow("1ABC")]
        [DataRow("A-B")]
        [DataRow("A B")]
        [DataRow("A=B")]
        [DataRow("IMAGE\n")]
        [DataRow("$(id)")]
        [DataRow("ÄBC")]
        public void BadNamesAreRejectedBeforeWriting(string name)
        {
            var file = Path.Combine(TestPaths.NewTempDirectory(), "exports.env");

            Assert.ThrowsExactly<ArgumentException>(() => EnvFileWriter.Write(file, new[] { Var("GOOD", "x"), Var(name, "value") }));

            Assert.IsFalse(File.Exists(file));
        }

        [TestMethod]
        public void GoodNamesAreAccepted()
        {
            foreach (var name in new[] { "A", "_", "_1", "a_b_C9", "BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_IMAGE" })
            {
                Assert.IsTrue(EnvFileWriter.IsValidName(name), name);
            }
        }

        [TestMethod]
        public void DuplicateNamesAndNulValuesAreRejected()
        {
            var file = Path.Combine(TestPaths.NewTempDirectory(), "exports.env");
            Assert.ThrowsExactly<ArgumentException>(() => EnvFileWriter.Write(file, new[] { Var("A", "1"), Var("A", "2") }));
            Assert.ThrowsExactly<ArgumentException>(() => EnvFileWriter.Write(file, new[] { Var("A", "1\0") }));
            Assert.IsFalse(File.Exists(file));
        }

        [TestMethod]
        public void IoFailureIsEnvFileWriteFailed()
        {
            var dir = TestPaths.NewTempDirectory();
            var blocker = Path.Combine(dir, "not-a-directory");
            File.WriteAllText(blocker, "x");
            var file = Path.Combine(blocker, "exports.env");

            var ex = Assert.ThrowsExactly<EcrCacheException>(() => EnvFileWriter.Write(file, new[] { Var("IMAGE", "x:y") }));

            Assert.AreEqual("ECRC1401", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Diagnostic.Message, file);
            StringAssert.Contains(ex.Diagnostic.Message, "EcrCacheEnvFile");
        }

        [TestMethod]
        public void TargetThatIsADirectoryIsEnvFileWriteFailed()
        {
            var dir = TestPaths.NewTempDirectory();

            var ex = Assert.ThrowsExactly<EcrCacheException>(() => EnvFileWriter.Write(dir, new[] { Var("IMAGE", "x:y") }));

            Assert.AreEqual("ECRC1401", ex.Diagnostic.Code);
            Assert.AreEqual(0, Directory.GetFiles(Path.GetDirectoryName(dir)!, "." + Path.GetFileName(dir) + ".*.tmp").Length, "temp file left behind");
        }
    }
}
