using EcrCache.Compose;
using EcrCache.Diagnostics;
using EcrCache.Options;
using EcrCache.Tasks.Tests.Core;

namespace EcrCache.Tasks.Tests.Compose
{
    [TestClass]
    public sealed class ComposeTests
    {
        private string _dir = "";

        [TestInitialize]
        public void SetUp()
        {
            _dir = TestPaths.NewTempDirectory("ecrcache-compose");
            Directory.CreateDirectory(Path.Combine(_dir, "api", "docker"));
            // The stages the tests' targets name (EcrCacheTarget must name a stage).
            File.WriteAllText(Path.Combine(_dir, "api", "docker", "api.Dockerfile"), "FROM scratch AS prod\nFROM scratch AS debug\nFROM scratch AS runtime\n");
            File.WriteAllText(Path.Combine(_dir, "api", "Dockerfile"), "FROM scratch\n");
            File.WriteAllText(Path.Combine(_dir, "package.json"), "{}");
        }

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

        private string Write(string yaml, string? dotEnv = null)
        {
            var path = Path.Combine(_dir, "docker-compose.yml");
            File.WriteAllText(path, yaml);
            if (dotEnv != null)
            {
                File.WriteAllText(Path.Combine(_dir, ".env"), dotEnv);
            }

            return path;
        }

        private static Func<string, string?> Env(params (string, string)[] values)
        {
            var map = values.ToDictionary(v => v.Item1, v => v.Item2);
            return name => map.TryGetValue(name, out var v) ? v : null;
        }

        [TestMethod]
        public void LongFormWithMapArgsAndInterpolation()
        {
            var file = Write(@"
services:
  db:
    image: postgres:16
  api:
    build:
      context: ./api
      dockerfile: docker/api.Dockerfile
      target: ${API_TARGET:-runtime}
      args:
        NODE_VERSION: ""20""
        FROM_ENV:
        GREETING: hello-${WHO}
        PRICE: $$5
", dotEnv: "WHO=dotenv\n# comment\nexport FROM_ENV='from .env'\n");
            var build = ComposeFileReader.Read(file, "api", Env(("WHO", "environment")));
            Assert.AreEqual(Path.Combine(_dir, "api"), build.Context);
            Assert.AreEqual(Path.Combine(_dir, "api", "docker", "api.Dockerfile"), build.Dockerfile);
            Assert.AreEqual("runtime", build.Target);
            var args = build.Args.ToDictionary(a => a.Key, a => a.Value);
            Assert.AreEqual("20", args["NODE_VERSION"]);
            Assert.AreEqual("from .env", args["FROM_ENV"], "an arg without value comes from the environment, then .env");
            Assert.AreEqual("hello-environment", args["GREETING"], "the environment wins over .env");
            Assert.AreEqual("$5", args["PRICE"]);
        }

        [TestMethod]
        public void ShortFormAndListArgs()
        {
            var file = Write("services:\n  api:\n    build: api\n  worker:\n    build:\n      context: api\n      args:\n        - A=1\n        - B\n        - C\n");
            var api = ComposeFileReader.Read(file, "api", Env());
            Assert.AreEqual(Path.Combine(_dir, "api", "Dockerfile"), api.Dockerfile);
            var worker = ComposeFileReader.Read(file, "worker", Env(("B", "bee")));
            CollectionAssert.AreEqual(new[] { "A=1", "B=bee", "C=" }, worker.Args.Select(a => a.Key + "=" + a.Value).ToArray());
            Assert.IsNull(worker.Args[2].Value, "an unset variable gives no value (docker compose omits the arg)");
        }

        [TestMethod]
        public void ErrorsAreCoded()
        {
            var file = Write("services:\n  db:\n    image: postgres\n  api:\n    build:\n      context: https://github.com/x/y.git\n  req:\n    build:\n      context: ${MISSING:?set MISSING}\n");
            Assert.AreEqual("ECRC1025", Assert.ThrowsExactly<EcrCacheException>(() => ComposeFileReader.Read(file, "nope", Env())).Diagnostic.Code);
            Assert.AreEqual("ECRC1027", Assert.ThrowsExactly<EcrCacheException>(() => ComposeFileReader.Read(file, "db", Env())).Diagnostic.Code);
            Assert.AreEqual("ECRC1027", Assert.ThrowsExactly<EcrCacheException>(() => ComposeFileReader.Read(file, "api", Env())).Diagnostic.Code);
            var required = Assert.ThrowsExactly<EcrCacheException>(() => ComposeFileReader.Read(file, "req", Env()));
            StringAssert.Contains(required.Diagnostic.Message, "set MISSING");
            Assert.AreEqual("ECRC1024", Assert.ThrowsExactly<EcrCacheException>(() => ComposeFileReader.Read(Path.Combine(_dir, "none.yml"), "api", Env())).Diagnostic.Code);
            File.WriteAllText(file, "services: [unclosed\n");
            Assert.AreEqual("ECRC1024", Assert.ThrowsExactly<EcrCacheException>(() => ComposeFileReader.Read(file, "api", Env())).Diagnostic.Code);
        }

        private static (string? File, int Line, int Column) Where(Action read)
        {
            var d = Assert.ThrowsExactly<EcrCacheException>(read).Diagnostic;
            return (d.File, d.Line, d.Column);
        }

        [TestMethod]
        public void ErrorsPointAtTheirLineOfTheComposeFile()
        {
            var file = Write("services:\n  db:\n    image: postgres\n  api:\n    build:\n      context: https://github.com/x/y.git\n  req:\n    build:\n      context: ${MISSING:?set MISSING}\n  args:\n    build:\n      args: 5\n");
            Assert.AreEqual((file, 1, 1), Where(() => ComposeFileReader.Read(file, "nope", Env())), "a missing service: at services:");
            Assert.AreEqual((file, 2, 3), Where(() => ComposeFileReader.Read(file, "db", Env())), "no build: section: at the service");
            Assert.AreEqual((file, 6, 7), Where(() => ComposeFileReader.Read(file, "api", Env())), "a URL context: at context:");
            Assert.AreEqual((file, 9, 16), Where(() => ComposeFileReader.Read(file, "req", Env())), "a required variable: at its value");
            Assert.AreEqual((file, 12, 13), Where(() => ComposeFileReader.Read(file, "args", Env())), "bad build.args: at its value");

            File.WriteAllText(file, "services:\n  api:\n    build: [unclosed\n");
            var (yamlFile, yamlLine, _) = Where(() => ComposeFileReader.Read(file, "api", Env()));
            Assert.AreEqual(file, yamlFile);
            Assert.IsTrue(yamlLine >= 3, "invalid YAML: where the parser stopped, line " + yamlLine);

            File.WriteAllText(file, "- a\n- b\n");
            Assert.AreEqual((file, 1, 1), Where(() => ComposeFileReader.Read(file, "api", Env())), "a top level that is not a mapping");

            var missing = Path.Combine(_dir, "none.yml");
            Assert.AreEqual((null, 0, 0), Where(() => ComposeFileReader.Read(missing, "api", Env())), "a file that does not exist: EcrCacheComposeFile is wrong, the project file");
        }

        [TestMethod]
        public void ConflictsPointAtTheComposeValueThatDisagrees()
        {
            var raw = Raw("services:\n  api:\n    build:\n      context: api\n      target: prod\n");
            raw["Target"] = "debug";
            var compose = Path.Combine(_dir, "docker-compose.yml");
            Assert.AreEqual((compose, 5, 7), Where(() => OptionsParser.Parse(raw, new CapturingBuildLog())));

            raw = Raw("services:\n  api:\n    build:\n      context: api\n");
            raw["Dockerfile"] = "api/docker/api.Dockerfile";
            Assert.AreEqual((compose, 3, 5), Where(() => OptionsParser.Parse(raw, new CapturingBuildLog())), "the default Dockerfile: at build:");

            raw = Raw("services:\n  api:\n    platform: linux/arm64\n    build: api\n");
            raw["Platform"] = "linux/amd64";
            Assert.AreEqual((compose, 3, 5), Where(() => OptionsParser.Parse(raw, new CapturingBuildLog())), "the service's platform:");
        }

        private RawOptions Raw(string yaml)
        {
            Write(yaml);
            var raw = new RawOptions
            {
                ProjectDirectory = _dir,
                ProjectName = "compose",
                IntermediateDirectory = Path.Combine(_dir, "obj", "ecrcache"),
                ["ComposeFile"] = "docker-compose.yml",
                ["ComposeService"] = "api",
                Environment = _ => null,
            };
            raw.CacheOn.Add(new RawItem("package.json"));
            return raw;
        }

        [TestMethod]
        public void OptionsComeFromTheServiceAndBuildArgItemsOverrideArgs()
        {
            var raw = Raw("services:\n  api:\n    build:\n      context: api\n      dockerfile: docker/api.Dockerfile\n      target: prod\n      args:\n        A: compose\n        B: compose\n");
            raw.BuildArgs.Add(new RawItem("B", new Dictionary<string, string> { ["Value"] = "item" }));
            var options = OptionsParser.Parse(raw, new CapturingBuildLog());
            Assert.AreEqual(Path.Combine(_dir, "api", "docker", "api.Dockerfile"), options.DockerfilePath);
            Assert.AreEqual(Path.Combine(_dir, "api"), options.ContextDirectory);
            Assert.AreEqual("prod", options.Target);
            CollectionAssert.AreEquivalent(new[] { "A=compose", "B=item" }, options.BuildArgs.Select(a => a.Key + "=" + a.Value).ToArray());
            Assert.AreEqual("api", options.ComposeService);
        }

        [TestMethod]
        public void ConflictingExplicitPropertiesAreAnError()
        {
            var raw = Raw("services:\n  api:\n    build:\n      context: api\n      target: prod\n");
            raw["Target"] = "debug";
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => OptionsParser.Parse(raw, new CapturingBuildLog()));
            Assert.AreEqual("ECRC1026", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Diagnostic.Message, "EcrCacheTarget");

            raw = Raw("services:\n  api:\n    build:\n      context: api\n");
            raw["Dockerfile"] = "api/docker/api.Dockerfile";
            Assert.AreEqual("ECRC1026", Assert.ThrowsExactly<EcrCacheException>(() => OptionsParser.Parse(raw, new CapturingBuildLog())).Diagnostic.Code);

            // The same values spelt differently are not a conflict.
            raw = Raw("services:\n  api:\n    build:\n      context: api\n");
            raw["Dockerfile"] = "./api/Dockerfile";
            raw["Context"] = "api/";
            Assert.AreEqual(Path.Combine(_dir, "api", "Dockerfile"), OptionsParser.Parse(raw, new CapturingBuildLog()).DockerfilePath);
        }

        [TestMethod]
        public void PlatformComesFromBuildPlatformsOrTheService_AndAnExplicitOneMustAgree()
        {
            var raw = Raw("services:\n  api:\n    platform: linux/arm64\n    build: api\n");
            Assert.AreEqual("linux/arm64", OptionsParser.Parse(raw, new CapturingBuildLog()).Platform);

            raw = Raw("services:\n  api:\n    platform: linux/arm64\n    build:\n      context: api\n      platforms:\n        - linux/arm64\n        - linux/amd64\n");
            Assert.AreEqual("linux/amd64,linux/arm64", OptionsParser.Parse(raw, new CapturingBuildLog()).Platform);

            raw = Raw("services:\n  api:\n    platform: linux/arm64\n    build: api\n");
            raw["Platform"] = "Linux/ARM64/v8";
            Assert.AreEqual("linux/arm64", OptionsParser.Parse(raw, new CapturingBuildLog()).Platform, "the same platform spelt differently is fine");

            raw = Raw("services:\n  api:\n    platform: linux/arm64\n    build: api\n");
            raw["Platform"] = "linux/amd64";
            Assert.AreEqual("ECRC1026", Assert.ThrowsExactly<EcrCacheException>(() => OptionsParser.Parse(raw, new CapturingBuildLog())).Diagnostic.Code);

            Assert.IsNull(OptionsParser.Parse(Raw("services:\n  api:\n    build: api\n"), new CapturingBuildLog()).Platform);
        }

        [TestMethod]
        public void FileWithoutServiceIsAnError()
        {
            var raw = Raw("services:\n  api:\n    build: api\n");
            raw["ComposeService"] = null;
            Assert.AreEqual("ECRC1028", Assert.ThrowsExactly<EcrCacheException>(() => OptionsParser.Parse(raw, new CapturingBuildLog())).Diagnostic.Code);
        }
    }
}
