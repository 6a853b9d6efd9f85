using EcrCache.Core;
using EcrCache.Diagnostics;
using EcrCache.Options;
using EcrCache.Tasks.Tests.Core;
using EcrCache.Tasks.Tests.Faults;

namespace EcrCache.Tasks.Tests.Options
{
    /// <summary>
    /// One table over the misuses of items, metadata and properties: each row gives its coded error (the run stops
    /// before any docker command, which the recording runner proves) or its warning (the run goes on). Rows are
    /// (name, what to set up, expected code, is it an error).
    /// </summary>
    [TestClass]
    public sealed class BadInputMatrixTests
    {
        private static Dictionary<string, string> Meta(params string[] pairs)
        {
            var d = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            for (var i = 0; i < pairs.Length; i += 2)
            {
                d[pairs[i]] = pairs[i + 1];
            }

            return d;
        }

        private static IEnumerable<(string Name, Action<RawOptions, string> Setup, string Code, bool IsError)> Rows() => new (string, Action<RawOptions, string>, string, bool)[]
        {
            ("missing Dockerfile", (r, d) => { r["DockerfileInline"] = null; r["Dockerfile"] = "nope/Dockerfile"; }, "ECRC1001", true),
            ("Dockerfile and inline", (r, d) => r["Dockerfile"] = "Dockerfile", "ECRC1002", true),
            ("Dockerfile with no FROM", (r, d) => r["DockerfileInline"] = "# just a comment\nRUN echo hi\n", "ECRC1043", true),
            ("Dockerfile file with no FROM", (r, d) => { File.WriteAllText(Path.Combine(d, "Empty.Dockerfile"), "\n"); r["DockerfileInline"] = null; r["Dockerfile"] = "Empty.Dockerfile"; }, "ECRC1043", true),
            ("empty BuildArg name", (r, d) => r.BuildArgs.Add(new RawItem(" ", Meta("Value", "x"))), "ECRC1003", true),
            ("BuildArg name starting with a digit", (r, d) => r.BuildArgs.Add(new RawItem("1ABC", Meta("Value", "x"))), "ECRC1003", true),
            ("BuildArg with $() in its name", (r, d) => r.BuildArgs.Add(new RawItem("A$(id)", Meta("Value", "x"))), "ECRC1003", true),
            ("BuildArg twice, different values", (r, d) => { r.BuildArgs.Add(new RawItem("A", Meta("Value", "1"))); r.BuildArgs.Add(new RawItem("A", Meta("Value", "2"))); }, "ECRC1014", true),
            ("BuildArg from an unset variable", (r, d) => r.BuildArgs.Add(new RawItem("UNSET_FOR_SURE")), "ECRC1004", false),
            ("secret-looking BuildArg", (r, d) => r.BuildArgs.Add(new RawItem("GITHUB_TOKEN", Meta("Value", "x"))), "ECRC1040", false),
            ("AllowSecretLookingName not a boolean", (r, d) => r.BuildArgs.Add(new RawItem("GITHUB_TOKEN", Meta("Value", "x", "AllowSecretLookingName", "perhaps"))), "ECRC1011", true),
            ("secret from an unset variable", (r, d) => r.Secrets.Add(new RawItem("NPM_TOKEN")), "ECRC1005", true),
            ("secret file missing", (r, d) => r.Secrets.Add(new RawItem("npmrc", Meta("Source", "missing.npmrc"))), "ECRC1006", true),
            ("secret with a bad id", (r, d) => r.Secrets.Add(new RawItem("a b")), "ECRC1007", true),
            ("secret with Source and Env", (r, d) => r.Secrets.Add(new RawItem("x", Meta("Source", "f", "Env", "X"))), "ECRC1007", true),
            ("unknown provider", (r, d) => r["Provider"] = "gcs-bucket", "ECRC1008", true),
            ("registry provider without a registry", (r, d) => r["Provider"] = "registry", "ECRC1009", true),
            ("invalid repository name", (r, d) => r["Repository"] = "Team/App", "ECRC1010", true),
            ("repository with a space", (r, d) => r["Repository"] = "team app", "ECRC1010", true),
            ("SkipPull not a boolean", (r, d) => r["SkipPull"] = "sometimes", "ECRC1011", true),
            ("PushLatest not a boolean", (r, d) => r["PushLatest"] = "2", "ECRC1011", true),
            ("context folder missing", (r, d) => r["Context"] = "no-such-folder", "ECRC1012", true),
            ("context escaping the project to nowhere", (r, d) => r["Context"] = "../../no-such-folder-" + Guid.NewGuid().ToString("N"), "ECRC1012", true),
            ("registry with a scheme", (r, d) => r["Registry"] = "https://registry.example.com", "ECRC1013", true),
            ("registry with a path", (r, d) => r["Registry"] = "registry.example.com/team", "ECRC1013", true),
            ("export variable with a dash", (r, d) => r["ExportEnvVariable"] = "MY-IMAGE", "ECRC1015", true),
            ("additional args with an open quote", (r, d) => r["AdditionalBuildArgs"] = "--label 'x", "ECRC1016", true),
            ("additional args setting the tag", (r, d) => r["AdditionalBuildArgs"] = "--tag other:1", "ECRC1017", true),
            ("negative max age (ecr)", (r, d) => { r["Provider"] = "ecr"; r["Region"] = "eu-west-1"; r["MaxAgeDays"] = "-1"; }, "ECRC1510", true),
            ("max age not a number (ecr)", (r, d) => { r["Provider"] = "ecr"; r["Region"] = "eu-west-1"; r["MaxAgeDays"] = "a week"; }, "ECRC1510", true),
            ("bad pull account (ecr)", (r, d) => { r["Provider"] = "ecr"; r["Region"] = "eu-west-1"; r["PullAccounts"] = "12345"; }, "ECRC1511", true),
            ("bad region (ecr)", (r, d) => { r["Provider"] = "ecr"; r["Region"] = "Europe West"; }, "ECRC1512", true),
            ("negative docker retries", (r, d) => r["DockerRetries"] = "-1", "ECRC1041", true),
            ("docker retries not a number", (r, d) => r["DockerRetries"] = "three", "ECRC1041", true),
            ("too many docker retries", (r, d) => r["DockerRetries"] = "100", "ECRC1041", true),
            ("negative lease timeout", (r, d) => r["LeaseTimeout"] = "-5", "ECRC1042", true),
            ("lease timeout not a duration", (r, d) => r["LeaseTimeout"] = "soon", "ECRC1042", true),
            ("lease timeout over a day", (r, d) => r["LeaseTimeout"] = "2.00:00:00", "ECRC1042", true),
            ("lease renew interval not a duration", (r, d) => r["LeaseRenewInterval"] = "often", "ECRC1340", true),
            ("lease renew interval under a second", (r, d) => r["LeaseRenewInterval"] = "00:00:00.5", "ECRC1340", true),
            ("lease TTL not a duration", (r, d) => r["LeaseTtl"] = "-1", "ECRC1341", true),
            ("lease TTL over a day", (r, d) => r["LeaseTtl"] = "2.00:00:00", "ECRC1341", true),
            ("lease renewed no faster than its TTL", (r, d) => { r["LeaseRenewInterval"] = "00:01:30"; r["LeaseTtl"] = "00:01:30"; }, "ECRC1342", true),
            ("env file under a file", (r, d) => { File.WriteAllText(Path.Combine(d, "afile"), "x"); r["EnvFile"] = "afile/image.env"; }, "ECRC1401", true),
            ("env file that is a folder", (r, d) => { Directory.CreateDirectory(Path.Combine(d, "afolder")); r["EnvFile"] = "afolder"; }, "ECRC1401", true),
            ("CacheOn file missing", (r, d) => r.CacheOn.Add(new RawItem("missing.json")), "ECRC1105", true),
            ("CacheOn on a folder", (r, d) => { Directory.CreateDirectory(Path.Combine(d, "src")); r.CacheOn.Add(new RawItem("src")); }, "ECRC1117", true),
            ("CacheOn Optional not a boolean", (r, d) => r.CacheOn.Add(new RawItem("missing.json", Meta("Optional", "maybe"))), "ECRC1011", true),
        };

        [TestMethod]
        public async Task EveryMisuseGivesItsCode_ErrorsStopBeforeDocker()
        {
            var failures = new List<string>();
            var count = 0;
            foreach (var (name, setup, code, isError) in Rows())
            {
                count++;
                var dir = TestPaths.NewTempDirectory("ecrcache-matrix");
                File.WriteAllText(Path.Combine(dir, "Dockerfile"), "FROM scratch\n");
                File.WriteAllText(Path.Combine(dir, "package.json"), "{}");
                var raw = new RawOptions
                {
                    ProjectDirectory = dir,
                    ProjectName = "matrix",
                    IntermediateDirectory = Path.Combine(dir, "obj", "ecrcache"),
                    ["DockerfileInline"] = "FROM scratch\n",
                    ["Repository"] = "build-cache/matrix",
                    ["DockerPath"] = "/nonexistent/docker-must-not-run",
                    Environment = _ => null,
                };
                raw.CacheOn.Add(new RawItem("package.json"));
                setup(raw, dir);

                var log = new CapturingBuildLog();
                var runner = new SequenceRunner().Then(99, "", "the matrix must not reach docker");
                string? thrown = null;
                try
                {
                    var options = OptionsParser.Parse(raw, log);
                    if (isError)
                    {
                        // Parsed: the engine must then fail with the code before any docker command.
                        await new CacheEngine(options, log, runner).EnsureAsync(CancellationToken.None);
                    }
                }
                catch (EcrCacheException ex)
                {
                    thrown = ex.Diagnostic.Code;
                }

                if (isError)
                {
                    if (thrown != code)
                    {
                        failures.Add($"{name}: expected error {code}, got {(thrown ?? "no error")}");
                    }
                    else if (runner.Calls > 0)
                    {
                        failures.Add($"{name}: {code} came after {runner.Calls} docker command(s)");
                    }
                }
                else if (!log.WarningCodes.Contains(code) || thrown != null)
                {
                    failures.Add($"{name}: expected warning {code}, got warnings [{string.Join(", ", log.WarningCodes)}] and error {thrown ?? "none"}");
                }
            }

            Assert.AreEqual(0, failures.Count, $"{failures.Count} of {count} rows:\n" + string.Join("\n", failures));
        }
    }
}
