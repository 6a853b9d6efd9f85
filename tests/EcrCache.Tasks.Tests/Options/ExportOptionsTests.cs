using EcrCache.Core;
using EcrCache.Diagnostics;
using EcrCache.Exports;
using EcrCache.Options;
using EcrCache.Tasks.Tests.Core;

namespace EcrCache.Tasks.Tests.Options
{
    /// <summary>The export options as <see cref="InputOptions"/> parses them (the Buildkite-specific checks live in Exports/).</summary>
    [TestClass]
    public sealed class ExportOptionsTests
    {
        private static RawOptions NewRaw()
        {
            var dir = TestPaths.NewTempDirectory("ecrc-export-options");
            File.WriteAllText(Path.Combine(dir, "Dockerfile"), "FROM busybox\n");
            File.WriteAllText(Path.Combine(dir, "package.json"), "{}\n");
            var raw = new RawOptions
            {
                ProjectDirectory = dir,
                ProjectName = "MyImage",
                IntermediateDirectory = Path.Combine(dir, "obj", "ecrcache") + Path.DirectorySeparatorChar,
                Environment = _ => null,
            };
            raw.CacheOn.Add(new RawItem("package.json"));
            return raw;
        }

        private static CacheOptions Parse(RawOptions raw) => OptionsParser.Parse(raw, new CapturingBuildLog());

        [TestMethod]
        [DataRow("BUILDKITE_AGENT_ACCESS_TOKEN")]
        [DataRow("BUILDKITE_SHELL")]
        [DataRow("BUILDKITE_COMMAND_EVAL")]
        [DataRow("BUILDKITE_HOOKS_PATH")]
        [DataRow("BUILDKITE_GIT_CLONE_FLAGS")]
        [DataRow("BUILDKITE_SKIP_CHECKOUT")]
        public void ProtectedExportVariableIsRefusedAtParsing(string name)
        {
            var raw = NewRaw();
            raw["ExportEnvVariable"] = name;

            var ex = Assert.ThrowsExactly<EcrCacheException>(() => Parse(raw));

            Assert.AreEqual("ECRC1406", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Diagnostic.Message, "'" + name + "'");
            StringAssert.Contains(ex.Diagnostic.Message, "EcrCacheExportEnvVariable");
        }

        [TestMethod]
        [DataRow("BUILDKITE_PLUGIN_DOCKER_IMAGE")]
        [DataRow("BUILDKITE_PLUGIN_DOCKER_COMPOSE_IMAGE")]
        [DataRow("BUILDKITE_REPO")] // protected, but the agent lets a job change it, so the Job API takes it
        [DataRow("buildkite_shell")] // a different variable on Unix, where names are case-sensitive
        public void OrdinaryOrWithinJobWritableNamesAreAccepted(string name)
        {
            if (OperatingSystem.IsWindows() && name == "buildkite_shell")
            {
                Assert.Inconclusive("names are case-insensitive on Windows");
            }

            var raw = NewRaw();
            raw["ExportEnvVariable"] = name;

            Assert.AreEqual(name, Parse(raw).ExportEnvVariable);
        }

        [TestMethod]
        public void MetadataTimeoutDefaultsToOneMinute()
        {
            Assert.AreEqual(TimeSpan.FromMinutes(1), Parse(NewRaw()).MetadataTimeout);
        }

        [TestMethod]
        [DataRow("2", 120)]
        [DataRow("00:00:30", 30)]
        [DataRow(" 00:00:01 ", 1)]
        [DataRow("01:00:00", 3600)]
        public void MetadataTimeoutTakesMinutesOrHhMmSs(string value, int seconds)
        {
            var raw = NewRaw();
            raw["MetadataTimeout"] = value;

            Assert.AreEqual(TimeSpan.FromSeconds(seconds), Parse(raw).MetadataTimeout);
        }

        [TestMethod]
        [DataRow("0")]
        [DataRow("00:00:00")]
        [DataRow("00:00:00.5")]
        [DataRow("61")]
        [DataRow("01:00:01")]
        [DataRow("30s")]
        [DataRow("-1")]
        [DataRow("soon")]
        public void BadMetadataTimeoutIsECRC1407(string value)
        {
            var raw = NewRaw();
            raw["MetadataTimeout"] = value;

            var ex = Assert.ThrowsExactly<EcrCacheException>(() => Parse(raw));

            Assert.AreEqual("ECRC1407", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Diagnostic.Message, "'" + value + "'");
        }

        [TestMethod]
        public void OnWindowsTheComparisonIgnoresCase()
        {
            Assert.IsTrue(BuildkiteProtectedVariables.IsProtected("buildkite_shell", windows: true));
            Assert.IsFalse(BuildkiteProtectedVariables.IsProtected("buildkite_shell", windows: false));
            Assert.IsTrue(BuildkiteProtectedVariables.IsProtected("BUILDKITE_SHELL", windows: false));
        }

        [TestMethod]
        public void ListHoldsOnlyUpperCaseVariableNames()
        {
            foreach (var name in BuildkiteProtectedVariables.All)
            {
                Assert.IsTrue(EnvFileWriter.IsValidName(name), name);
                Assert.AreEqual(name.ToUpperInvariant(), name);
                StringAssert.StartsWith(name, "BUILDKITE_");
            }
        }
    }
}
