using System.Text;
using System.Text.Json;
using EcrCache.Core;
using EcrCache.Exports;
using EcrCache.Options;
using EcrCache.Tasks.Tests.Core;
using EcrCache.TestSupport;

namespace EcrCache.Tasks.Tests.Exports
{
    /// <summary>
    /// A whole run of the engine (real docker, local provider) from a project folder, env file path, meta-data key and
    /// Job API token full of quotes, spaces, a newline, $(), backticks and non-ASCII. The exports must arrive exactly
    /// and nothing may be executed: the env file is sourced by bash and its PowerShell twin dot-sourced by pwsh, the Job API is a fake agent socket (there is no
    /// real agent here) and buildkite-agent is a fake script that records its argv and stdin.
    /// </summary>
    [TestClass]
    [TestCategory(Categories.Docker)]
    public sealed class HostileValuesEndToEndTests
    {
        [TestMethod]
        public async Task HostilePathsAndKeys_RoundTripThroughEnvFileJobApiAndMetaData_WithoutInjection()
        {
            RealDocker.Require();
            var root = TestPaths.NewTempDirectory("ecrc-hostile");
            var marker = Path.Combine(root, "pwned");
            var hostile = "it's \"q\" $(touch " + marker + ") `touch " + marker + "` ünï ✓\nline2";
            var project = Path.Combine(root, "proj " + hostile.Replace('/', '_'));
            Directory.CreateDirectory(project);
            File.WriteAllText(Path.Combine(project, "package.json"), "{\"name\":\"hostile-" + Guid.NewGuid().ToString("N") + "\"}");
            var envFile = Path.Combine(project, "out $(x) `y`", "image 'é'.env");

            var agentDir = Path.Combine(root, "agent $(touch " + marker + ")");
            Directory.CreateDirectory(agentDir);
            var agent = Path.Combine(agentDir, "buildkite-agent");
            File.WriteAllText(agent, "#!/bin/sh\nout=\"$(dirname \"$0\")\"\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done > \"$out/argv\"\ncat > \"$out/stdin\"\n");
            File.SetUnixFileMode(agent, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

            using var jobApi = new FakeJobApiServer(Path.Combine(TestPaths.NewTempDirectory("ecrc-jobapi"), "job-api.sock"), 200, "{\"added\":[],\"updated\":[]}");
            var metadataKey = "key with \"quotes\" $(touch " + marker + ") `x` ✓";
            var repository = "build-cache/hostile-" + Guid.NewGuid().ToString("N").Substring(0, 12);
            var environment = new Dictionary<string, string>
            {
                ["BUILDKITE_AGENT_JOB_API_SOCKET"] = jobApi.SocketPath,
                ["BUILDKITE_AGENT_JOB_API_TOKEN"] = "tok-" + Guid.NewGuid().ToString("N"),
            };
            var raw = new RawOptions
            {
                ProjectDirectory = project,
                ProjectName = "hostile",
                IntermediateDirectory = Path.Combine(project, "obj", "ecrcache"),
                ["DockerfileInline"] = "FROM " + RealDocker.BaseImage + "\n",
                ["Repository"] = repository,
                ["DockerPath"] = RealDocker.Executable,
                ["EnvFile"] = envFile,
                ["MetadataKey"] = metadataKey,
                ["BuildkiteAgentPath"] = agent,
                Environment = n => environment.TryGetValue(n, out var v) ? v : null,
            };
            raw.CacheOn.Add(new RawItem("package.json"));
            try
            {
                var log = new CapturingBuildLog();
                var result = await new CacheEngine(OptionsParser.Parse(raw, log), log).EnsureAsync(new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token);

                // The env file, sourced by bash through a path that is itself hostile (passed as $1, never parsed).
                var shell = ShellTestHelper.Run("bash", "set -e; source \"$0\"; printf '%s' \"$BUILDKITE_PLUGIN_DOCKER_IMAGE\"".Replace("$0", envFile.Replace("\"", "\\\"").Replace("$", "\\$").Replace("`", "\\`")));
                Assert.AreEqual(0, shell.ExitCode, shell.Stderr);
                Assert.AreEqual(result.Reference, Encoding.UTF8.GetString(shell.Stdout));

                // Its PowerShell twin beside it, dot-sourced by pwsh through the same hostile path.
                var powerShell = Pwsh.DotSourceAndRead(EnvFileWriter.PowerShellPath(envFile), new[] { "BUILDKITE_PLUGIN_DOCKER_IMAGE", "BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_TAG" });
                Assert.AreEqual(result.Reference, powerShell["BUILDKITE_PLUGIN_DOCKER_IMAGE"]);
                Assert.AreEqual(result.Tag, powerShell["BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_TAG"]);

                // The Job API got exactly the values, as JSON.
                var request = await jobApi.GetRequestAsync();
                using var json = JsonDocument.Parse(request.Body);
                Assert.AreEqual(result.Reference, json.RootElement.GetProperty("env").GetProperty("BUILDKITE_PLUGIN_DOCKER_IMAGE").GetString());

                // The meta-data key arrived as one argument (no shell in between), the value on stdin.
                Assert.AreEqual("[meta-data]\n[set]\n[" + metadataKey + "]\n", File.ReadAllText(Path.Combine(agentDir, "argv")));
                Assert.AreEqual(result.Reference, File.ReadAllText(Path.Combine(agentDir, "stdin")));

                Assert.IsFalse(File.Exists(marker), "a hostile value was executed somewhere");
            }
            finally
            {
                RealDocker.RemoveRepository(repository);
            }
        }
    }
}
