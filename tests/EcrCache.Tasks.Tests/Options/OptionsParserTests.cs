using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using EcrCache.Core;
using EcrCache.Diagnostics;
using EcrCache.Options;
using EcrCache.Tasks.Tests.Core;

namespace EcrCache.Tasks.Tests.Options
{
    [TestClass]
    public sealed class OptionsParserTests
    {
        private string _dir = "";
        private Dictionary<string, string> _env = new Dictionary<string, string>(StringComparer.Ordinal);

        [TestInitialize]
        public void SetUp()
        {
            _dir = TestPaths.NewTempDirectory("ecrcache-options");
            _env = new Dictionary<string, string>(StringComparer.Ordinal);
            File.WriteAllText(Path.Combine(_dir, "Dockerfile"), "FROM busybox\n");
            File.WriteAllText(Path.Combine(_dir, "package.json"), "{}\n");
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

        // ---------------------------------------------------------------- helpers

        private RawOptions NewRaw(bool withCacheOn = true)
        {
            var raw = new RawOptions
            {
                ProjectDirectory = _dir,
                ProjectName = "MyImage",
                IntermediateDirectory = Path.Combine(_dir, "obj", "ecrcache") + Path.DirectorySeparatorChar,
                Environment = name => _env.TryGetValue(name, out var value) ? value : null,
            };
            if (withCacheOn)
            {
                raw.CacheOn.Add(Item("package.json"));
            }

            return raw;
        }

        private static RawItem Item(string spec, params (string Key, string Value)[] metadata)
        {
            var dict = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (key, value) in metadata)
            {
                dict[key] = value;
            }

            return new RawItem(spec, dict);
        }

        private static CacheOptions Parse(RawOptions raw, CapturingBuildLog? log = null) =>
            OptionsParser.Parse(raw, log ?? new CapturingBuildLog());

        private static EcrCacheException AssertFails(RawOptions raw, string expectedCode)
        {
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => OptionsParser.Parse(raw, new CapturingBuildLog()));
            Assert.AreEqual(expectedCode, ex.Diagnostic.Code, ex.Message);
            StringAssert.StartsWith(ex.Message, expectedCode + ": ");
            return ex;
        }

        private SecretSpec ParseSecret(RawItem item) =>
            InputOptions.ParseSecret(item, _dir, name => _env.TryGetValue(name, out var value) ? value : null);

        private string Full(params string[] parts) => Path.GetFullPath(Path.Combine(new[] { _dir }.Concat(parts).ToArray()));

        // ---------------------------------------------------------------- errors, one per code

        [TestMethod]
        public void DockerfileMissing_ECRC1001()
        {
            File.Delete(Path.Combine(_dir, "Dockerfile"));
            var ex = AssertFails(NewRaw(), "ECRC1001");
            StringAssert.Contains(ex.Message, Full("Dockerfile"));
        }

        [TestMethod]
        public void DockerfileMissing_ExplicitRelativePathIsResolvedFromTheProject_ECRC1001()
        {
            var raw = NewRaw();
            raw["Dockerfile"] = "docker/Nope.Dockerfile";
            var ex = AssertFails(raw, "ECRC1001");
            StringAssert.Contains(ex.Message, Full("docker", "Nope.Dockerfile"));
        }

        [TestMethod]
        public void DockerfileNoFrom_ECRC1043_PointsAtTheDockerfilesFirstLine_OrAtTheProjectFileWhenInline()
        {
            File.WriteAllText(Path.Combine(_dir, "Dockerfile"), "# no FROM here\nRUN echo hi\n");
            var diagnostic = AssertFails(NewRaw(), "ECRC1043").Diagnostic;
            Assert.AreEqual((Full("Dockerfile"), 1, 1), (diagnostic.File, diagnostic.Line, diagnostic.Column));

            var raw = NewRaw();
            raw["DockerfileInline"] = "RUN echo hi\n";
            diagnostic = AssertFails(raw, "ECRC1043").Diagnostic;
            Assert.AreEqual((null, 0, 0), (diagnostic.File, diagnostic.Line, diagnostic.Column), "inline text is the project file's");
        }

        [TestMethod]
        public void DockerfileAndInline_ECRC1002()
        {
            var raw = NewRaw();
            raw["Dockerfile"] = "Dockerfile";
            raw["DockerfileInline"] = "FROM busybox";
            var ex = AssertFails(raw, "ECRC1002");
            StringAssert.Contains(ex.Message, "'Dockerfile'");
        }

        [TestMethod]
        [DataRow("1ABC")]
        [DataRow("NODE-ENV")]
        [DataRow("A B")]
        [DataRow("A=B")]
        [DataRow("ÄRG")]
        [DataRow("")]
        public void BadBuildArgName_ECRC1003(string name)
        {
            var raw = NewRaw();
            raw.BuildArgs.Add(Item(name, ("Value", "x")));
            AssertFails(raw, "ECRC1003");
        }

        [TestMethod]
        public void BuildArgUnset_WarnsECRC1004_AndStaysUnset()
        {
            var raw = NewRaw();
            raw.BuildArgs.Add(Item("NODE_ENV"));
            var log = new CapturingBuildLog();
            var options = Parse(raw, log);
            CollectionAssert.AreEqual(new[] { "ECRC1004" }, log.WarningCodes.ToList());
            StringAssert.Contains(log.Warnings[0].Message, "'NODE_ENV'");
            StringAssert.Contains(log.Warnings[0].Message, "the Dockerfile's ARG default applies");
            Assert.AreEqual(1, options.BuildArgs.Count);
            Assert.AreEqual("NODE_ENV", options.BuildArgs[0].Key);
            Assert.IsNull(options.BuildArgs[0].Value, "unset, not \"\": an empty value would override the Dockerfile's ARG default");
        }

        [TestMethod]
        public void BuildArgUnsetAndEmptyForOneName_AreDifferentValues_ECRC1014()
        {
            var raw = NewRaw();
            raw.BuildArgs.Add(Item("NODE_ENV"));
            raw.BuildArgs.Add(Item("NODE_ENV", ("Value", "")));
            AssertFails(raw, "ECRC1014");
        }

        [TestMethod]
        public void BuildArgWithoutValue_TakesTheEnvironment_WithoutWarning()
        {
            _env["NODE_ENV"] = "production";
            var raw = NewRaw();
            raw.BuildArgs.Add(Item(" NODE_ENV "));
            var log = new CapturingBuildLog();
            var options = Parse(raw, log);
            Assert.AreEqual(0, log.Warnings.Count, log.AllText);
            Assert.AreEqual(new KeyValuePair<string, string?>("NODE_ENV", "production"), options.BuildArgs.Single());
        }

        [TestMethod]
        public void BuildArgWithExplicitEmptyValue_IsEmpty_EvenWhenTheEnvironmentHasOne()
        {
            _env["NODE_ENV"] = "production";
            var raw = NewRaw();
            raw.BuildArgs.Add(Item("NODE_ENV", ("Value", "")));
            var log = new CapturingBuildLog();
            var options = Parse(raw, log);
            Assert.AreEqual(0, log.Warnings.Count, "an explicit Value=\"\" is intended, no ECRC1004");
            Assert.AreEqual(new KeyValuePair<string, string?>("NODE_ENV", ""), options.BuildArgs.Single());
        }

        [TestMethod]
        public void BuildArgWithValue_KeepsTheValueVerbatim()
        {
            var raw = NewRaw();
            raw.BuildArgs.Add(Item("GREETING", ("Value", " hello world ")));
            var options = Parse(raw);
            Assert.AreEqual(" hello world ", options.BuildArgs.Single().Value);
        }

        [TestMethod]
        public void BuildArgsKeepTheirOrder()
        {
            var raw = NewRaw();
            raw.BuildArgs.Add(Item("B", ("Value", "2")));
            raw.BuildArgs.Add(Item("A", ("Value", "1")));
            raw.BuildArgs.Add(Item("C", ("Value", "3")));
            CollectionAssert.AreEqual(new[] { "B", "A", "C" }, Parse(raw).BuildArgs.Select(p => p.Key).ToList());
        }

        [TestMethod]
        public void SecretEnvUnset_ECRC1005()
        {
            var raw = NewRaw();
            raw.Secrets.Add(Item("NPM_TOKEN"));
            var ex = AssertFails(raw, "ECRC1005");
            StringAssert.Contains(ex.Message, "'NPM_TOKEN'");
        }

        [TestMethod]
        public void SecretEnvSetButEmpty_ECRC1005()
        {
            _env["NPM_TOKEN"] = "";
            var raw = NewRaw();
            raw.Secrets.Add(Item("NPM_TOKEN"));
            AssertFails(raw, "ECRC1005");
        }

        [TestMethod]
        public void SecretEnvUnset_FullSpec_NamesIdAndVariable_ECRC1005()
        {
            var raw = NewRaw();
            raw.Secrets.Add(Item("id=token,env=NPM_TOKEN"));
            var ex = AssertFails(raw, "ECRC1005");
            StringAssert.Contains(ex.Message, "'token'");
            StringAssert.Contains(ex.Message, "'NPM_TOKEN'");
        }

        [TestMethod]
        public void SecretFileMissing_SourceMetadata_ECRC1006()
        {
            var raw = NewRaw();
            raw.Secrets.Add(Item("npmrc", ("Source", ".npmrc")));
            var ex = AssertFails(raw, "ECRC1006");
            StringAssert.Contains(ex.Message, Full(".npmrc"));
        }

        [TestMethod]
        public void SecretFileMissing_FullSpec_ECRC1006()
        {
            var raw = NewRaw();
            raw.Secrets.Add(Item("id=npmrc,src=secrets/.npmrc"));
            var ex = AssertFails(raw, "ECRC1006");
            StringAssert.Contains(ex.Message, Full("secrets", ".npmrc"));
        }

        [TestMethod]
        [DataRow("bad id")]
        [DataRow("bad/id")]
        [DataRow("id=x,foo=y")]
        [DataRow("id=x,src=a,env=B")]
        [DataRow("type=ssh,id=x")]
        [DataRow("type=file,id=x")]
        [DataRow("=x")]
        [DataRow("id=x,noequals")]
        [DataRow("id=bad id,env=X")]
        [DataRow("id=t,env=1BAD")]
        [DataRow("id=t,env=")]
        public void BadSecretSpec_ECRC1007(string spec)
        {
            _env["X"] = "v";
            _env["B"] = "v";
            File.WriteAllText(Path.Combine(_dir, "a"), "file");
            var raw = NewRaw();
            raw.Secrets.Add(Item(spec));
            AssertFails(raw, "ECRC1007");
        }

        [TestMethod]
        public void BadSecretSpec_SourceAndEnvBoth_ECRC1007()
        {
            _env["TOKEN"] = "v";
            File.WriteAllText(Path.Combine(_dir, "token.txt"), "v");
            var raw = NewRaw();
            raw.Secrets.Add(Item("token", ("Source", "token.txt"), ("Env", "TOKEN")));
            AssertFails(raw, "ECRC1007");
        }

        [TestMethod]
        public void BadSecretSpec_InvalidEnvMetadata_ECRC1007()
        {
            var raw = NewRaw();
            raw.Secrets.Add(Item("token", ("Env", "NOT-A-NAME")));
            AssertFails(raw, "ECRC1007");
        }

        [TestMethod]
        [DataRow("nope")]
        [DataRow("gcs")]
        public void UnknownProvider_ECRC1008(string provider)
        {
            var raw = NewRaw();
            raw["Provider"] = provider;
            var ex = AssertFails(raw, "ECRC1008");
            StringAssert.Contains(ex.Message, "'" + provider + "'");
            StringAssert.Contains(ex.Message, "local, registry");
        }

        [TestMethod]
        public void Provider_IsCaseInsensitive()
        {
            var raw = NewRaw();
            raw["Provider"] = " Registry ";
            raw["Registry"] = "127.0.0.1:5000";
            Assert.AreEqual(ProviderKind.Registry, Parse(raw).Provider);
            raw["Provider"] = "LOCAL";
            Assert.AreEqual(ProviderKind.Local, Parse(raw).Provider);
        }

        [TestMethod]
        public void RegistryRequired_ECRC1009()
        {
            var raw = NewRaw();
            raw["Provider"] = "registry";
            AssertFails(raw, "ECRC1009");
            raw["Registry"] = "   ";
            AssertFails(raw, "ECRC1009");
        }

        [TestMethod]
        [DataRow("Build-Cache/app")]
        [DataRow("build-cache//app")]
        [DataRow("-build-cache")]
        [DataRow("build-cache/")]
        [DataRow("/build-cache")]
        [DataRow("build cache")]
        [DataRow("build-cache/app:tag")]
        [DataRow("build-cache/app...x")]
        [DataRow("build-cache/app\n")]
        public void BadRepositoryName_ECRC1010(string repository)
        {
            var raw = NewRaw();
            raw["Repository"] = repository;
            var ex = AssertFails(raw, "ECRC1010");
            StringAssert.Contains(ex.Message, "'" + repository + "'");
        }

        [TestMethod]
        public void BadRepositoryName_TooLong_ECRC1010()
        {
            var raw = NewRaw();
            raw["Repository"] = new string('a', 256);
            AssertFails(raw, "ECRC1010");
            raw["Repository"] = new string('a', 255);
            Assert.AreEqual(raw["Repository"], Parse(raw).Repository);
        }

        [TestMethod]
        [DataRow("build-cache/app")]
        [DataRow("a")]
        [DataRow("my_org/my__pipe/x-y--z.v2")]
        public void GoodRepositoryNames(string repository)
        {
            var raw = NewRaw();
            raw["Repository"] = repository;
            Assert.AreEqual(repository, Parse(raw).Repository);
        }

        [TestMethod]
        public void BadRepositoryName_DefaultFromAProjectNameWithSpaces_ECRC1010()
        {
            var raw = NewRaw();
            raw.ProjectName = "My Image";
            AssertFails(raw, "ECRC1010");
        }

        [TestMethod]
        [DataRow("EcrCacheSkipPull", "maybe")]
        [DataRow("EcrCachePushLatest", "2")]
        [DataRow("EcrCacheRegistryInsecure", "yes please")]
        public void BadBoolean_ECRC1011(string property, string value)
        {
            var raw = NewRaw();
            switch (property)
            {
                case "EcrCacheSkipPull":
                    raw["SkipPull"] = value;
                    break;
                case "EcrCachePushLatest":
                    raw["PushLatest"] = value;
                    break;
                default:
                    raw["RegistryInsecure"] = value;
                    break;
            }

            var ex = AssertFails(raw, "ECRC1011");
            StringAssert.Contains(ex.Message, property);
            StringAssert.Contains(ex.Message, "'" + value + "'");
        }

        [TestMethod]
        public void ContextMissing_ECRC1012()
        {
            var raw = NewRaw();
            raw["Context"] = "no-such-folder";
            var ex = AssertFails(raw, "ECRC1012");
            StringAssert.Contains(ex.Message, Full("no-such-folder"));
        }

        [TestMethod]
        public void ContextMissing_AFileIsNotAFolder_ECRC1012()
        {
            var raw = NewRaw();
            raw["Context"] = Path.Combine(_dir, "Dockerfile"); // a file, not a folder
            AssertFails(raw, "ECRC1012");
        }

        [TestMethod]
        [DataRow("https://registry.example.com")]
        [DataRow("registry.example.com/path")]
        [DataRow("registry.example.com:5000:1")]
        [DataRow("registry.example.com:123456")]
        [DataRow("-registry.example.com")]
        [DataRow("registry example.com")]
        [DataRow("user@registry.example.com")]
        public void BadRegistryHost_ECRC1013(string registry)
        {
            var raw = NewRaw();
            raw["Provider"] = "registry";
            raw["Registry"] = registry;
            AssertFails(raw, "ECRC1013");
        }

        [TestMethod]
        [DataRow("registry.example.com", "registry.example.com")]
        [DataRow("127.0.0.1:5000", "127.0.0.1:5000")]
        [DataRow(" localhost:5000/ ", "localhost:5000")]
        [DataRow("[::1]:5000", "[::1]:5000")]
        [DataRow("123456789012.dkr.ecr.ap-southeast-2.amazonaws.com", "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com")]
        public void GoodRegistryHosts(string registry, string expected)
        {
            var raw = NewRaw();
            raw["Provider"] = "registry";
            raw["Registry"] = registry;
            Assert.AreEqual(expected, Parse(raw).Registry);
        }

        [TestMethod]
        public void DuplicateBuildArg_DifferentValues_ECRC1014()
        {
            var raw = NewRaw();
            raw.BuildArgs.Add(Item("A", ("Value", "1")));
            raw.BuildArgs.Add(Item("A", ("Value", "2")));
            var ex = AssertFails(raw, "ECRC1014");
            StringAssert.Contains(ex.Message, "'A'");
        }

        [TestMethod]
        public void DuplicateBuildArg_SameValue_IsKeptOnce()
        {
            _env["A"] = "1";
            var raw = NewRaw();
            raw.BuildArgs.Add(Item("A", ("Value", "1")));
            raw.BuildArgs.Add(Item("A"));
            Assert.AreEqual(1, Parse(raw).BuildArgs.Count);
        }

        [TestMethod]
        [DataRow("1VAR")]
        [DataRow("MY-VAR")]
        [DataRow("MY VAR")]
        [DataRow("VAR\n")]
        public void BadExportVariable_ECRC1015(string name)
        {
            var raw = NewRaw();
            raw["ExportEnvVariable"] = name;
            AssertFails(raw, "ECRC1015");
        }

        [TestMethod]
        [DataRow("--label 'unterminated")]
        [DataRow("--label \"unterminated")]
        public void BadAdditionalArgs_ECRC1016(string args)
        {
            var raw = NewRaw();
            raw["AdditionalBuildArgs"] = args;
            AssertFails(raw, "ECRC1016");
        }

        [TestMethod]
        [DataRow("-t other:tag", "-t")]
        [DataRow("--tag other:tag", "--tag")]
        [DataRow("--tag=other:tag", "--tag=other:tag")]
        [DataRow("--no-cache -f other.Dockerfile", "-f")]
        [DataRow("--file=other.Dockerfile", "--file=other.Dockerfile")]
        [DataRow("--target build", "--target")]
        [DataRow("--target=build", "--target=build")]
        public void AdditionalArgsForbidden_ECRC1017(string args, string reported)
        {
            var raw = NewRaw();
            raw["AdditionalBuildArgs"] = args;
            var ex = AssertFails(raw, "ECRC1017");
            StringAssert.Contains(ex.Message, "'" + reported + "'");
        }

        [TestMethod]
        public void AdditionalArgs_AreSplitAndKeptAsWritten()
        {
            var raw = NewRaw();
            raw["AdditionalBuildArgs"] = "  --network host --label 'a b=c' --no-cache ";
            var options = Parse(raw);
            Assert.AreEqual("--network host --label 'a b=c' --no-cache", options.AdditionalBuildArgs);
            CollectionAssert.AreEqual(new[] { "--network", "host", "--label", "a b=c", "--no-cache" }, options.AdditionalBuildArgList.ToList());
        }

        [TestMethod]
        public void CacheOnFileMissing_IsErrorECRC1105_NamingThePathAndTheProject()
        {
            // A typo would otherwise weaken the key for good without anyone noticing.
            var raw = NewRaw();
            raw.ProjectFile = Path.Combine(_dir, "image.proj");
            raw.CacheOn.Add(Item("packge-lock.json"));
            var ex = AssertFails(raw, "ECRC1105");
            StringAssert.Contains(ex.Message, "'packge-lock.json'");
            StringAssert.Contains(ex.Message, raw.ProjectFile);
            StringAssert.Contains(ex.Message, "Optional=\"true\"");
        }

        [TestMethod]
        public void CacheOnFileMissing_WithOptional_IsKeptAsAnOptionalInput_WithADetailLine()
        {
            var raw = NewRaw();
            raw.CacheOn.Add(Item(".npmrc", ("Optional", "true")));
            raw.CacheOn.Add(Item("package.json", ("Optional", "true")));
            var log = new CapturingBuildLog();
            var options = Parse(raw, log);
            Assert.AreEqual(0, log.Warnings.Count, log.AllText);
            var npmrc = options.CacheOn.Single(c => c.RelativePath == ".npmrc");
            Assert.IsTrue(npmrc.Optional);
            Assert.AreEqual(Full(".npmrc"), npmrc.FullPath);
            StringAssert.Contains(log.AllText, "'.npmrc' does not exist; it is Optional, so it is keyed as absent");
            Assert.IsTrue(options.CacheOn.Where(c => c.RelativePath == "package.json").Any(c => c.Optional), "an existing Optional file is an ordinary input");
        }

        [TestMethod]
        public void CacheOnOptionalThatIsNotABoolean_ECRC1011()
        {
            var raw = NewRaw();
            raw.CacheOn.Add(Item("package.json", ("Optional", "sometimes")));
            StringAssert.Contains(AssertFails(raw, "ECRC1011").Message, "Optional");
        }

        [TestMethod]
        public void CacheOnFolder_IsErrorECRC1117_SuggestingAGlob()
        {
            Directory.CreateDirectory(Path.Combine(_dir, "src"));
            var raw = NewRaw();
            raw.CacheOn.Add(Item("src/"));
            var ex = AssertFails(raw, "ECRC1117");
            StringAssert.Contains(ex.Message, "'src/**'");

            raw = NewRaw();
            raw.CacheOn.Add(Item("src", ("Optional", "true")));
            AssertFails(raw, "ECRC1117");
        }

        [TestMethod]
        public void CacheOnEmpty_WarnsECRC1106()
        {
            var log = new CapturingBuildLog();
            var options = Parse(NewRaw(withCacheOn: false), log);
            CollectionAssert.AreEqual(new[] { "ECRC1106" }, log.WarningCodes.ToList());
            Assert.AreEqual(0, options.CacheOn.Count);
        }

        [TestMethod]
        public void CacheOnNoMatch_WarnsECRC1104_ForAWildcardThatMatchedNothing()
        {
            Directory.CreateDirectory(Path.Combine(_dir, "web"));
            File.WriteAllText(Path.Combine(_dir, "web", "package.json"), "{}");
            var project = Path.Combine(_dir, "image.proj");
            File.WriteAllText(project, @"<Project Sdk=""EcrCache.Sdk/1.0.0"">
  <PropertyGroup><Lock>*.lock</Lock></PropertyGroup>
  <ItemGroup>
    <CacheOn Include=""**/package.json"" Exclude=""**/node_modules/**"" />
    <CacheOn Include=""**/*.lock"" />
    <CacheOn Include=""yarn/*.lock;web/*.json"" />
    <CacheOn Include=""$(Lock)"" />
    <CacheOn Include=""exact-missing.json"" />
  </ItemGroup>
</Project>");
            var raw = NewRaw(withCacheOn: false);
            raw.ProjectFile = project;
            raw.CacheOn.Add(Item("package.json", ("FullPath", Path.Combine(_dir, "package.json"))));
            raw.CacheOn.Add(Item("web/package.json", ("FullPath", Path.Combine(_dir, "web", "package.json"))));
            var log = new CapturingBuildLog();
            var options = Parse(raw, log);
            Assert.AreEqual(2, options.CacheOn.Count);
            Assert.IsTrue(log.Warnings.All(w => w.Code == "ECRC1104"), log.AllText);
            CollectionAssert.AreEquivalent(
                new[] { "**/*.lock", "yarn/*.lock" },
                log.Warnings.Select(w => w.Message.Split('\'')[1]).ToList(),
                log.AllText);
        }

        [TestMethod]
        public void CacheOnNoMatch_NoProjectFile_NoWarning()
        {
            var log = new CapturingBuildLog();
            Parse(NewRaw(), log);
            Assert.AreEqual(0, log.Warnings.Count, log.AllText);
        }

        [TestMethod]
        public void CacheOn_UsesFullPathMetadata_AndJsonPath()
        {
            var other = TestPaths.NewTempDirectory("ecrcache-options-other");
            try
            {
                var file = Path.Combine(other, "deps.json");
                File.WriteAllText(file, "{}");
                var raw = NewRaw(withCacheOn: false);
                raw.CacheOn.Add(Item("ignored-spec.json", ("FullPath", file), ("JsonPath", ".dependencies")));
                raw.CacheOn.Add(Item("package.json", ("JsonPath", "  ")));
                var options = Parse(raw);
                Assert.AreEqual(file, options.CacheOn[0].FullPath);
                Assert.AreEqual("../" + Path.GetFileName(other) + "/deps.json", options.CacheOn[0].RelativePath);
                Assert.AreEqual(".dependencies", options.CacheOn[0].JsonPath);
                Assert.IsNull(options.CacheOn[1].JsonPath, "blank JsonPath hashes the whole file");
            }
            finally
            {
                Directory.Delete(other, recursive: true);
            }
        }

        // ---------------------------------------------------------------- defaults

        [TestMethod]
        public void Defaults()
        {
            var options = Parse(NewRaw());
            Assert.AreEqual(ProviderKind.Local, options.Provider);
            Assert.IsNull(options.Registry);
            Assert.AreEqual("build-cache/myimage", options.Repository);
            Assert.AreEqual("BUILDKITE_PLUGIN_DOCKER_IMAGE", options.ExportEnvVariable);
            Assert.AreEqual(Full("obj", "ecrcache", "image.env"), options.EnvFile);
            Assert.AreEqual(Full("obj", "ecrcache") + Path.DirectorySeparatorChar, options.IntermediateDirectory);
            Assert.AreEqual(Full("Dockerfile"), options.DockerfilePath);
            Assert.IsNull(options.DockerfileInline);
            Assert.AreEqual(_dir, options.ContextDirectory);
            Assert.AreEqual("docker", options.DockerPath);
            Assert.AreEqual("buildkite-agent", options.BuildkiteAgentPath);
            Assert.IsFalse(options.SkipPull);
            Assert.IsTrue(options.PushLatest);
            Assert.IsFalse(options.RegistryInsecure);
            Assert.IsNull(options.Target);
            Assert.IsNull(options.MetadataKey);
            Assert.IsNull(options.AdditionalBuildArgs);
            Assert.AreEqual(0, options.AdditionalBuildArgList.Count);
            Assert.AreEqual(0, options.BuildArgs.Count);
            Assert.AreEqual(0, options.Secrets.Count);
        }

        [TestMethod]
        public void Defaults_BlankIntermediateDirectory_IsObjEcrcache()
        {
            var raw = NewRaw();
            raw.IntermediateDirectory = "  ";
            var options = Parse(raw);
            Assert.AreEqual(Full("obj", "ecrcache"), options.IntermediateDirectory);
            Assert.AreEqual(Full("obj", "ecrcache", "image.env"), options.EnvFile);
        }

        [TestMethod]
        public void EnvFile_RelativeIsResolvedFromTheProject()
        {
            var raw = NewRaw();
            raw["EnvFile"] = "out/image.env";
            Assert.AreEqual(Full("out", "image.env"), Parse(raw).EnvFile);
        }

        [TestMethod]
        public void Repository_DefaultsFromBuildkiteSlugs_WhenBothAreSet()
        {
            _env["BUILDKITE_ORGANIZATION_SLUG"] = "acme";
            _env["BUILDKITE_PIPELINE_SLUG"] = "web-app";
            Assert.AreEqual("build-cache/acme/web-app", Parse(NewRaw()).Repository);
        }

        [TestMethod]
        [DataRow("acme", null)]
        [DataRow(null, "web-app")]
        [DataRow("", "web-app")]
        [DataRow("acme", "")]
        public void Repository_DefaultsFromTheProjectName_WhenASlugIsMissing(string? org, string? pipeline)
        {
            if (org != null)
            {
                _env["BUILDKITE_ORGANIZATION_SLUG"] = org;
            }

            if (pipeline != null)
            {
                _env["BUILDKITE_PIPELINE_SLUG"] = pipeline;
            }

            Assert.AreEqual("build-cache/myimage", Parse(NewRaw()).Repository);
        }

        [TestMethod]
        public void Repository_ExplicitWins()
        {
            _env["BUILDKITE_ORGANIZATION_SLUG"] = "acme";
            _env["BUILDKITE_PIPELINE_SLUG"] = "web-app";
            var raw = NewRaw();
            raw["Repository"] = "mine/images";
            Assert.AreEqual("mine/images", Parse(raw).Repository);
        }

        [TestMethod]
        public void Context_IsTheDockerfileFolder()
        {
            Directory.CreateDirectory(Path.Combine(_dir, "docker"));
            File.WriteAllText(Path.Combine(_dir, "docker", "app.Dockerfile"), "FROM busybox\n");
            var raw = NewRaw();
            raw["Dockerfile"] = "docker/app.Dockerfile";
            var options = Parse(raw);
            Assert.AreEqual(Full("docker", "app.Dockerfile"), options.DockerfilePath);
            Assert.AreEqual(Full("docker"), options.ContextDirectory);
        }

        [TestMethod]
        public void Context_ExplicitRelative_IsResolvedAndTrimmed()
        {
            Directory.CreateDirectory(Path.Combine(_dir, "docker"));
            File.WriteAllText(Path.Combine(_dir, "docker", "Dockerfile"), "FROM busybox\n");
            var raw = NewRaw();
            raw["Dockerfile"] = "docker/Dockerfile";
            raw["Context"] = "docker/../";
            Assert.AreEqual(_dir, Parse(raw).ContextDirectory);
        }

        [TestMethod]
        public void Inline_ContextIsTheProjectFolder_AndNoDockerfileIsNeeded()
        {
            File.Delete(Path.Combine(_dir, "Dockerfile"));
            var raw = NewRaw();
            raw["DockerfileInline"] = "FROM busybox\nRUN true\n";
            var options = Parse(raw);
            Assert.IsNull(options.DockerfilePath);
            Assert.AreEqual("FROM busybox\nRUN true\n", options.DockerfileInline);
            Assert.AreEqual(_dir, options.ContextDirectory);
        }

        [TestMethod]
        public void Inline_WhitespaceOnlyIsTreatedAsUnset()
        {
            var raw = NewRaw();
            raw["DockerfileInline"] = "  \n ";
            var options = Parse(raw);
            Assert.IsNull(options.DockerfileInline);
            Assert.AreEqual(Full("Dockerfile"), options.DockerfilePath);
        }

        [TestMethod]
        public void ExplicitValuesAreTaken()
        {
            File.WriteAllText(Path.Combine(_dir, "Dockerfile"), "FROM busybox AS deps\nFROM deps\n");
            var raw = NewRaw();
            raw["Target"] = "deps";
            raw["MetadataKey"] = "image-ref";
            raw["DockerPath"] = "/usr/bin/docker";
            raw["BuildkiteAgentPath"] = "/opt/bk";
            raw["ExportEnvVariable"] = "MY_IMAGE";
            raw["SkipPull"] = "true";
            raw["PushLatest"] = "false";
            raw["RegistryInsecure"] = "1";
            var options = Parse(raw);
            Assert.AreEqual("deps", options.Target);
            Assert.AreEqual("image-ref", options.MetadataKey);
            Assert.AreEqual("/usr/bin/docker", options.DockerPath);
            Assert.AreEqual("/opt/bk", options.BuildkiteAgentPath);
            Assert.AreEqual("MY_IMAGE", options.ExportEnvVariable);
            Assert.IsTrue(options.SkipPull);
            Assert.IsFalse(options.PushLatest);
            Assert.IsTrue(options.RegistryInsecure);
        }

        // ---------------------------------------------------------------- secrets

        [TestMethod]
        public void Secret_PlainId_ReadsTheVariableOfThatName()
        {
            _env["NPM_TOKEN"] = "x";
            var secret = ParseSecret(Item("NPM_TOKEN"));
            Assert.AreEqual("NPM_TOKEN", secret.Id);
            Assert.AreEqual("id=NPM_TOKEN,env=NPM_TOKEN", secret.Spec);
            Assert.AreEqual("NPM_TOKEN", secret.EnvironmentVariable);
            Assert.IsNull(secret.File);
            Assert.AreEqual(secret.Spec, secret.ToString());
        }

        [TestMethod]
        [DataRow("Env")]
        [DataRow("EnvironmentVariable")]
        public void Secret_PlainIdWithEnvMetadata(string metadataName)
        {
            _env["NPM_TOKEN"] = "x";
            var secret = ParseSecret(Item("token", (metadataName, "NPM_TOKEN")));
            Assert.AreEqual("id=token,env=NPM_TOKEN", secret.Spec);
            Assert.AreEqual("NPM_TOKEN", secret.EnvironmentVariable);
        }

        [TestMethod]
        public void Secret_SourceMetadata_IsAnAbsolutePath()
        {
            File.WriteAllText(Path.Combine(_dir, ".npmrc"), "x");
            var secret = ParseSecret(Item("npmrc", ("Source", ".npmrc")));
            Assert.AreEqual("npmrc", secret.Id);
            Assert.AreEqual("id=npmrc,src=" + Full(".npmrc"), secret.Spec);
            Assert.AreEqual(Full(".npmrc"), secret.File);
            Assert.IsNull(secret.EnvironmentVariable);
        }

        [TestMethod]
        public void Secret_FullSpecWithSrc_IsResolvedToAnAbsolutePath()
        {
            Directory.CreateDirectory(Path.Combine(_dir, "sub"));
            File.WriteAllText(Path.Combine(_dir, ".npmrc"), "x");
            var secret = ParseSecret(Item("id=npmrc,src=sub/../.npmrc"));
            Assert.AreEqual("id=npmrc,src=" + Full(".npmrc"), secret.Spec);
            Assert.IsTrue(Path.IsPathRooted(secret.File!));
        }

        [TestMethod]
        public void Secret_FullSpecWithSourceKey_AndNoId_TakesTheFileName()
        {
            File.WriteAllText(Path.Combine(_dir, ".npmrc"), "x");
            var secret = ParseSecret(Item("source=.npmrc"));
            Assert.AreEqual(".npmrc", secret.Id);
            Assert.AreEqual("id=.npmrc,src=" + Full(".npmrc"), secret.Spec);
        }

        [TestMethod]
        public void Secret_FullSpecWithEnv()
        {
            _env["VAR"] = "x";
            var secret = ParseSecret(Item(" id=t , env=VAR "));
            Assert.AreEqual("t", secret.Id);
            Assert.AreEqual("id=t,env=VAR", secret.Spec);
            Assert.AreEqual("VAR", secret.EnvironmentVariable);
        }

        [TestMethod]
        public void Secret_FullSpecEnvOnly_IdIsTheVariable()
        {
            _env["VAR"] = "x";
            Assert.AreEqual("id=VAR,env=VAR", ParseSecret(Item("env=VAR")).Spec);
        }

        [TestMethod]
        public void Secret_TypeEnv_SrcNamesTheVariable()
        {
            _env["VAR"] = "x";
            var secret = ParseSecret(Item("type=env,id=t,src=VAR"));
            Assert.AreEqual("id=t,env=VAR", secret.Spec);
            Assert.AreEqual("VAR", secret.EnvironmentVariable);
            Assert.IsNull(secret.File);
        }

        [TestMethod]
        public void Secret_TypeEnv_WithoutSource_UsesTheId()
        {
            _env["TOKEN"] = "x";
            Assert.AreEqual("id=TOKEN,env=TOKEN", ParseSecret(Item("type=env,id=TOKEN")).Spec);
        }

        [TestMethod]
        public void Secret_TypeFile()
        {
            File.WriteAllText(Path.Combine(_dir, "f.txt"), "x");
            var secret = ParseSecret(Item("type=file,id=f,src=f.txt"));
            Assert.AreEqual("id=f,src=" + Full("f.txt"), secret.Spec);
        }

        [TestMethod]
        public void Secret_IdOnlyFullSpec_ReadsTheVariableOfThatName()
        {
            _env["TOKEN"] = "x";
            Assert.AreEqual("id=TOKEN,env=TOKEN", ParseSecret(Item("id=TOKEN")).Spec);
        }

        [TestMethod]
        public void SecretValues_NeverEnterSecretSpecOrCacheOptions()
        {
            const string Canary = "CANARY-s3cr3t-7f1e9";
            _env["NPM_TOKEN"] = Canary;
            _env["OTHER"] = Canary + "-other";
            File.WriteAllText(Path.Combine(_dir, ".npmrc"), "//registry/:_authToken=" + Canary + "\n");
            var raw = NewRaw();
            raw.Secrets.Add(Item("NPM_TOKEN"));
            raw.Secrets.Add(Item("npmrc", ("Source", ".npmrc")));
            raw.Secrets.Add(Item("id=other,env=OTHER"));
            raw.Secrets.Add(Item("id=rc2,src=.npmrc"));
            raw.Secrets.Add(Item("type=env,id=t3,src=NPM_TOKEN"));
            var options = Parse(raw);
            Assert.AreEqual(5, options.Secrets.Count);

            var strings = new List<string>();
            CollectStrings(options, strings);
            foreach (var secret in options.Secrets)
            {
                CollectStrings(secret, strings);
                strings.Add(secret.ToString());
            }

            Assert.IsTrue(strings.Count > 20, "reflection found the string properties");
            foreach (var text in strings)
            {
                Assert.IsFalse(text.Contains("s3cr3t"), "a secret value leaked into: " + text);
            }
        }

        private static void CollectStrings(object target, List<string> strings)
        {
            foreach (var property in target.GetType().GetProperties(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance))
            {
                if (property.GetIndexParameters().Length > 0)
                {
                    continue;
                }

                var value = property.GetValue(target);
                switch (value)
                {
                    case string s:
                        strings.Add(s);
                        break;
                    case IEnumerable<string> list:
                        strings.AddRange(list);
                        break;
                    case IEnumerable<KeyValuePair<string, string>> pairs:
                        strings.AddRange(pairs.SelectMany(p => new[] { p.Key, p.Value }));
                        break;
                    case IEnumerable<EcrCache.Keys.CacheOnInput> inputs:
                        strings.AddRange(inputs.Select(i => i.ToString()));
                        break;
                }
            }
        }

        // ---------------------------------------------------------------- SplitCommandLine

        [TestMethod]
        [DataRow("", new string[0])]
        [DataRow("   \t\n ", new string[0])]
        [DataRow("a b  c", new[] { "a", "b", "c" })]
        [DataRow("a\tb\nc", new[] { "a", "b", "c" })]
        [DataRow("'a b' \"c d\"", new[] { "a b", "c d" })]
        [DataRow("--label=\"x y\"", new[] { "--label=x y" })]
        [DataRow("--label \"x=\\\"y\\\"\"", new[] { "--label", "x=\"y\"" })]
        [DataRow("a\\ b", new[] { "a b" })]
        [DataRow("\"a'b\" 'a\"b'", new[] { "a'b", "a\"b" })]
        [DataRow("'it''s'", new[] { "its" })]
        [DataRow("'a\\b'", new[] { "a\\b" })]
        [DataRow("\"a\\nb\"", new[] { "a\\nb" })]
        [DataRow("\"\\$HOME\" \"\\\\\"", new[] { "$HOME", "\\" })]
        [DataRow("\"\" ''", new[] { "", "" })]
        [DataRow("pre'mid dle'post", new[] { "premid dlepost" })]
        [DataRow("trailing\\", new[] { "trailing\\" })]
        [DataRow("$HOME ${X} *", new[] { "$HOME", "${X}", "*" })]
        public void SplitCommandLine_QuotesLikeAPosixShell(string text, string[] expected)
        {
            CollectionAssert.AreEqual(expected, InputOptions.SplitCommandLine(text).ToList());
        }

        [TestMethod]
        [DataRow("'open")]
        [DataRow("\"open")]
        [DataRow("a \"b\\\"")]
        public void SplitCommandLine_UnterminatedQuote_ECRC1016(string text)
        {
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => InputOptions.SplitCommandLine(text));
            Assert.AreEqual("ECRC1016", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "unterminated");
        }

        // ---------------------------------------------------------------- RelativePath

        [TestMethod]
        public void RelativePath_InsideTheBase()
        {
            Assert.AreEqual("a/b.json", InputOptions.RelativePath("/tmp/base", "/tmp/base/a/b.json"));
            Assert.AreEqual("a/b.json", InputOptions.RelativePath("/tmp/base/", "/tmp/base/a/b.json"));
            Assert.AreEqual("a/b.json", InputOptions.RelativePath("/tmp/base", "/tmp/base/x/../a/./b.json"));
        }

        [TestMethod]
        public void RelativePath_OutsideTheBase_UsesDotDot()
        {
            Assert.AreEqual("../other/c.json", InputOptions.RelativePath("/tmp/base", "/tmp/other/c.json"));
            Assert.AreEqual("../base2/c.json", InputOptions.RelativePath("/tmp/base", "/tmp/base2/c.json"), "a sibling with a common prefix is not inside");
            Assert.AreEqual("../../etc/c.json", InputOptions.RelativePath("/tmp/base", "/etc/c.json"));
            Assert.AreEqual("../c.json", InputOptions.RelativePath("/tmp/base/sub/..", "/tmp/c.json"));
        }

        [TestMethod]
        [DataRow("/tmp/other/a b.json", "../other/a b.json")]
        [DataRow("/tmp/other/a%20b.json", "../other/a%20b.json")]
        [DataRow("/tmp/other/a#b?.json", "../other/a#b?.json")]
        [DataRow("/tmp/other/ü.json", "../other/ü.json")]
        [DataRow("/tmp/base/x%41.json", "x%41.json")]
        public void RelativePath_KeepsSpecialCharacters(string full, string expected)
        {
            Assert.AreEqual(expected, InputOptions.RelativePath("/tmp/base", full));
        }

        // ---------------------------------------------------------------- bools

        [TestMethod]
        [DataRow("true", true)]
        [DataRow("TRUE", true)]
        [DataRow(" True ", true)]
        [DataRow("1", true)]
        [DataRow("yes", true)]
        [DataRow("on", true)]
        [DataRow("false", false)]
        [DataRow("False", false)]
        [DataRow("0", false)]
        [DataRow("no", false)]
        [DataRow("OFF", false)]
        public void ParseBool_Accepts(string text, bool expected)
        {
            Assert.AreEqual(expected, Validate.Bool("P", text, !expected));
        }

        [TestMethod]
        [DataRow(null)]
        [DataRow("")]
        [DataRow("   ")]
        public void ParseBool_BlankIsTheDefault(string? text)
        {
            Assert.IsTrue(Validate.Bool("P", text, true));
            Assert.IsFalse(Validate.Bool("P", text, false));
        }

        [TestMethod]
        [DataRow("maybe")]
        [DataRow("2")]
        [DataRow("t")]
        [DataRow("truee")]
        public void ParseBool_Rejects_ECRC1011(string text)
        {
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => Validate.Bool("EcrCacheSkipPull", text, false));
            Assert.AreEqual("ECRC1011", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "EcrCacheSkipPull");
        }
    }
}
