using System.Net;
using System.Net.Sockets;

namespace EcrCache.Tasks.Tests.Sdk
{
    /// <summary>
    /// Builds started from an IDE: the items Visual Studio's fast up-to-date check reads, and design-time builds that
    /// never run docker nor open a connection. Projects are written and evaluated as in <see cref="SdkEvaluationTests"/>.
    /// </summary>
    [TestClass]
    public sealed class SdkIdeTests
    {
        private static readonly string[] PublicTargets =
            { "EnsureCachedImage", "ComputeCachedImageKey", "ResolveCachedImageStore", "PullOrBuildCachedImage", "ExportCachedImage", "ExplainCachedImageKey" };

        private string _dir = "";

        [ClassInitialize]
        public static void RegisterMSBuild(TestContext context) => MSBuildSetup.EnsureRegistered();

        [TestInitialize]
        public void SetUp() => _dir = TestPaths.NewTempDirectory("ecrcache-ide");

        [TestCleanup]
        public void TearDown()
        {
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        private string Dir(params string[] parts) => Path.Combine(new[] { _dir }.Concat(parts).ToArray());

        /// <summary>A Microsoft.NET.Sdk library that imports the EcrCache SDK by path, as &lt;Sdk Name="EcrCache.Sdk" /&gt; does.</summary>
        private string NetSdkProject(string body)
        {
            var path = Dir("Lib.csproj");
            File.WriteAllText(path, $@"<Project Sdk=""Microsoft.NET.Sdk"">
  <Import Project=""{SdkHarness.SdkProps}"" />
  <PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup>
{body}
  <Import Project=""{SdkHarness.SdkTargets}"" />
</Project>
");
            return path;
        }

        private const string EnsureOnBuild = "  <PropertyGroup><EcrCacheEnsureOnBuild>true</EcrCacheEnsureOnBuild></PropertyGroup>\n";

        private List<(string Spec, Dictionary<string, string> Metadata)> Items(string project, string itemType) =>
            SdkHarness.EvaluateItems(project, SdkEvaluationTests.NoBuildkite(), itemType);

        /// <summary>Our up-to-date check inputs, as full paths; every one is in the set EcrCache.</summary>
        private List<string> Inputs(string project)
        {
            var items = Items(project, "UpToDateCheckInput");
            foreach (var (spec, metadata) in items)
            {
                Assert.AreEqual("EcrCache", metadata.GetValueOrDefault("Set"), spec + " is not in the set EcrCache");
            }

            return items.Select(i => i.Spec).ToList();
        }

        // ---------------------------------------------------------------- fast up-to-date check items

        [TestMethod]
        public void UpToDateCheck_CacheOnFilesAndGlobs_TheDockerfile_AndTheEnsuredRecord()
        {
            File.WriteAllText(Dir("Dockerfile"), "FROM busybox\n");
            File.WriteAllText(Dir("package.json"), "{}");
            Directory.CreateDirectory(Dir("apps", "web"));
            Directory.CreateDirectory(Dir("apps", "api"));
            File.WriteAllText(Dir("apps", "web", "package-lock.json"), "{}");
            File.WriteAllText(Dir("apps", "api", "package-lock.json"), "{}");
            var project = NetSdkProject(EnsureOnBuild + @"  <ItemGroup>
    <CacheOn Include=""package.json"" JsonPath="".dependencies"" />
    <CacheOn Include=""apps/**/package-lock.json"" />
    <CacheOn Include=""optional.txt"" Optional=""true"" />
  </ItemGroup>");

            CollectionAssert.AreEquivalent(
                new[] { Dir("package.json"), Dir("apps", "web", "package-lock.json"), Dir("apps", "api", "package-lock.json"), Dir("Dockerfile") },
                Inputs(project),
                "a missing (Optional) file is left out: VS would build every time");
            var built = Items(project, "UpToDateCheckBuilt").Where(i => i.Metadata.GetValueOrDefault("Set") == "EcrCache").ToList();
            CollectionAssert.AreEqual(new[] { Dir("obj", "ecrcache", "ensured.json") }, built.Select(b => b.Spec).ToList());

            // A file that appears is an input from the next evaluation on.
            File.WriteAllText(Dir("optional.txt"), "x");
            CollectionAssert.Contains(Inputs(project), Dir("optional.txt"));
        }

        [TestMethod]
        public void UpToDateCheck_DockerfileFromTheProject_RelativeToTheProjectFolder()
        {
            Directory.CreateDirectory(Dir("docker"));
            File.WriteAllText(Dir("docker", "build.Dockerfile"), "FROM busybox\n");
            var project = NetSdkProject(EnsureOnBuild + "  <PropertyGroup><EcrCacheDockerfile>docker/build.Dockerfile</EcrCacheDockerfile></PropertyGroup>");
            CollectionAssert.AreEqual(new[] { Dir("docker", "build.Dockerfile") }, Inputs(project));
        }

        [TestMethod]
        public void UpToDateCheck_InlineDockerfile_IsNoInput()
        {
            var project = NetSdkProject(EnsureOnBuild + "  <PropertyGroup><EcrCacheDockerfileInline>FROM busybox</EcrCacheDockerfileInline></PropertyGroup>");
            Assert.AreEqual(0, Inputs(project).Count, string.Join(", ", Inputs(project)));
            Assert.AreEqual(1, Items(project, "UpToDateCheckBuilt").Count(i => i.Metadata.GetValueOrDefault("Set") == "EcrCache"));
        }

        [TestMethod]
        public void UpToDateCheck_ComposeFile_AndTheEnvFileBesideIt()
        {
            Directory.CreateDirectory(Dir("compose"));
            File.WriteAllText(Dir("compose", "docker-compose.yml"), "services: {}\n");
            var project = NetSdkProject(EnsureOnBuild + @"  <PropertyGroup>
    <EcrCacheComposeFile>compose/docker-compose.yml</EcrCacheComposeFile>
    <EcrCacheComposeService>app</EcrCacheComposeService>
  </PropertyGroup>");
            CollectionAssert.AreEqual(new[] { Dir("compose", "docker-compose.yml") }, Inputs(project), "no .env yet: no input for it, and no default Dockerfile");

            File.WriteAllText(Dir("compose", ".env"), "TAG=1\n");
            CollectionAssert.AreEquivalent(new[] { Dir("compose", "docker-compose.yml"), Dir("compose", ".env") }, Inputs(project));
        }

        [TestMethod]
        public void UpToDateCheck_NoItems_WithoutEnsureOnBuild_OrWhenDisabled()
        {
            File.WriteAllText(Dir("Dockerfile"), "FROM busybox\n");
            File.WriteAllText(Dir("package.json"), "{}");
            const string cacheOn = "  <ItemGroup><CacheOn Include=\"package.json\" /></ItemGroup>\n";
            foreach (var body in new[]
                     {
                         cacheOn,
                         cacheOn + "  <PropertyGroup><EcrCacheEnsureOnBuild>false</EcrCacheEnsureOnBuild></PropertyGroup>",
                         cacheOn + EnsureOnBuild + "  <PropertyGroup><EcrCacheEnabled>false</EcrCacheEnabled></PropertyGroup>",
                     })
            {
                var project = NetSdkProject(body);
                Assert.AreEqual(0, Items(project, "UpToDateCheckInput").Count(i => i.Metadata.GetValueOrDefault("Set") == "EcrCache"), body);
                Assert.AreEqual(0, Items(project, "UpToDateCheckBuilt").Count(i => i.Metadata.GetValueOrDefault("Set") == "EcrCache"), body);
                Assert.AreEqual(0, Items(project, "_EcrCacheUpToDateInput").Count, body);
            }
        }

        [TestMethod]
        public void UpToDateCheck_NoItems_InAStandaloneImageProject()
        {
            File.WriteAllText(Dir("Dockerfile"), "FROM busybox\n");
            File.WriteAllText(Dir("package.json"), "{}");
            var project = SdkHarness.WriteProject(_dir, "MyImage.proj", EnsureOnBuild + "  <ItemGroup><CacheOn Include=\"package.json\" /></ItemGroup>");
            Assert.AreEqual(0, Items(project, "UpToDateCheckInput").Count);
            Assert.AreEqual(0, Items(project, "UpToDateCheckBuilt").Count);
            Assert.AreEqual(0, Items(project, "_EcrCacheUpToDateInput").Count);
            Assert.AreEqual("", SdkHarness.Evaluate(project, SdkEvaluationTests.NoBuildkite(), "_EcrCacheUpToDateCheck")["_EcrCacheUpToDateCheck"]);
        }

        [TestMethod]
        public void UpToDateCheck_InsideVisualStudio_TouchesTheEnsuredRecord_OnlyWhenAnInputIsNewer()
        {
            // The no-op rewrites nothing: without the touch, an input edit that keeps the key would leave the project
            // out of date for good. Tested on the touch target alone (the ensure itself needs docker).
            File.WriteAllText(Dir("package.json"), "{}");
            var project = NetSdkProject(EnsureOnBuild + "  <PropertyGroup><EcrCacheDockerfileInline>FROM busybox</EcrCacheDockerfileInline></PropertyGroup>\n"
                                        + "  <ItemGroup><CacheOn Include=\"package.json\" /></ItemGroup>");
            var ensured = Dir("obj", "ecrcache", "ensured.json");
            Directory.CreateDirectory(Path.GetDirectoryName(ensured)!);
            File.WriteAllText(ensured, "{}");
            var old = DateTime.UtcNow.AddHours(-2);
            File.SetLastWriteTimeUtc(ensured, old);
            File.SetLastWriteTimeUtc(Dir("package.json"), old.AddHours(1));

            var commandLine = SdkHarness.Build(project, SdkEvaluationTests.NoBuildkite(), new[] { "_EcrCacheTouchUpToDateCheckBuilt" });
            Assert.IsTrue(commandLine.Success, commandLine.Log);
            Assert.AreEqual(old, File.GetLastWriteTimeUtc(ensured), "outside VS nothing is written");

            var insideVs = SdkEvaluationTests.NoBuildkite(("BuildingInsideVisualStudio", "true"));
            var touched = SdkHarness.Build(project, insideVs, new[] { "_EcrCacheTouchUpToDateCheckBuilt" });
            Assert.IsTrue(touched.Success, touched.Log);
            var after = File.GetLastWriteTimeUtc(ensured);
            Assert.IsTrue(after > File.GetLastWriteTimeUtc(Dir("package.json")), touched.Log);
            Assert.AreEqual("{}", File.ReadAllText(ensured));

            File.SetLastWriteTimeUtc(ensured, after.AddMinutes(-1));
            var upToDate = SdkHarness.Build(project, insideVs, new[] { "_EcrCacheTouchUpToDateCheckBuilt" });
            Assert.IsTrue(upToDate.Success, upToDate.Log);
            Assert.AreEqual(after.AddMinutes(-1), File.GetLastWriteTimeUtc(ensured), "inputs older than the record: no write");
        }

        // ---------------------------------------------------------------- design-time builds: no docker, no network

        [TestMethod]
        [DataRow("DesignTimeBuild", "true", "", "")]
        [DataRow("BuildingInsideVisualStudio", "true", "BuildingProject", "false")]
        public void DesignTime_EveryPublicTarget_RunsNoDocker_OpensNoConnection_WritesNothing(string property, string value, string property2, string value2)
        {
            using var listener = new RecordingListener();
            var record = Dir("docker-calls.txt");
            var docker = RecordingDocker(record);
            var project = Project(listener.Port);
            var globals = SdkEvaluationTests.NoBuildkite(
                (property, value),
                ("EcrCacheTasksAssembly", SdkHarness.TasksAssembly),
                ("EcrCacheDockerPath", docker));
            if (property2 != "")
            {
                globals[property2] = value2;
            }

            foreach (var target in PublicTargets.Append("Build"))
            {
                var outcome = SdkHarness.Build(project, globals, new[] { target }, "EcrCacheImageReference", "EcrCacheKey");
                Assert.IsTrue(outcome.Success, target + ": " + outcome.Log);
                Assert.AreEqual(0, outcome.Errors.Count + outcome.Warnings.Count, target + ": " + outcome.Log);
                CollectionAssert.Contains(outcome.TargetsRun, target, outcome.Log);
                var ours = outcome.TasksRun.Where(t => SdkEvaluationTests.StepTasks().ContainsKey(t)).ToList();
                Assert.AreEqual(0, ours.Count, target + ": tasks that ran: " + string.Join(", ", ours));
                Assert.AreEqual("", outcome.Properties["EcrCacheKey"], target);
                Assert.IsFalse(File.Exists(record), target + " ran docker: " + (File.Exists(record) ? File.ReadAllText(record) : ""));
                Assert.AreEqual(0, listener.Connections, target + " opened a connection to the registry");
                Assert.IsFalse(Directory.Exists(Dir("obj", "ecrcache")), target + " wrote to obj/ecrcache");
            }
        }

        [TestMethod]
        public void NotDesignTime_TheSameProject_RunsTheStandInDocker()
        {
            // The control for the test above: outside a design-time build the stand-in and the listener do see calls,
            // so their silence there means something.
            using var listener = new RecordingListener();
            var record = Dir("docker-calls.txt");
            var globals = SdkEvaluationTests.NoBuildkite(
                ("EcrCacheTasksAssembly", SdkHarness.TasksAssembly),
                ("EcrCacheDockerPath", RecordingDocker(record)));
            var outcome = SdkHarness.Build(Project(listener.Port), globals, new[] { "EnsureCachedImage" });
            Assert.IsTrue(File.Exists(record), "docker was not called: " + outcome.Log);
            Assert.IsTrue(listener.Connections > 0, "the registry was not called: " + outcome.Log);
        }

        /// <summary>A standalone image project on a registry at 127.0.0.1:<paramref name="port"/>, its base image there too.</summary>
        private string Project(int port)
        {
            File.WriteAllText(Dir("Dockerfile"), $"FROM 127.0.0.1:{port}/base:1\n");
            File.WriteAllText(Dir("package.json"), "{}");
            return SdkHarness.WriteProject(_dir, "MyImage.proj", $@"  <PropertyGroup>
    <EcrCacheProvider>registry</EcrCacheProvider>
    <EcrCacheRegistry>127.0.0.1:{port}</EcrCacheRegistry>
    <EcrCacheRegistryInsecure>true</EcrCacheRegistryInsecure>
  </PropertyGroup>
  <ItemGroup><CacheOn Include=""package.json"" /></ItemGroup>");
        }

        /// <summary>
        /// A docker stand-in that appends its arguments to <paramref name="record"/>; it answers `docker version` with a
        /// linux/amd64 daemon, so that a real build goes on to the registry, and prints nothing for anything else.
        /// </summary>
        private string RecordingDocker(string record)
        {
            var path = Dir("docker");
            File.WriteAllText(path, "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '" + record + "'\n"
                                    + "if [ \"$1\" = version ]; then echo '{\"Client\":{\"Version\":\"27.0.0\"},\"Server\":{\"Version\":\"27.0.0\",\"Os\":\"linux\",\"Arch\":\"amd64\"}}'; fi\n");
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            return path;
        }

        /// <summary>A TCP listener on a free local port that accepts and counts every connection, then closes it.</summary>
        private sealed class RecordingListener : IDisposable
        {
            private readonly TcpListener _listener = new TcpListener(IPAddress.Loopback, 0);
            private readonly Task _accepting;
            private int _connections;

            public RecordingListener()
            {
                _listener.Start();
                _accepting = AcceptAsync();
            }

            public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

            public int Connections => Volatile.Read(ref _connections);

            private async Task AcceptAsync()
            {
                try
                {
                    while (true)
                    {
                        using var client = await _listener.AcceptTcpClientAsync();
                        Interlocked.Increment(ref _connections);
                    }
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                }
            }

            public void Dispose()
            {
                _listener.Stop();
                try
                {
                    _accepting.Wait(TimeSpan.FromSeconds(5));
                }
                catch (AggregateException)
                {
                }
            }
        }
    }
}
