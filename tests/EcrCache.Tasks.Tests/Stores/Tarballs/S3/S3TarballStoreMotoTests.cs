using Amazon.S3;
using Amazon.S3.Model;
using EcrCache.Core;
using EcrCache.Diagnostics;
using EcrCache.Docker;
using EcrCache.Options;
using EcrCache.Processes;
using EcrCache.Stores.Tarballs;
using EcrCache.Stores.Tarballs.S3;
using EcrCache.Tasks.Tests.Core;
using EcrCache.Tasks.Tests.Stores.Ecr;

namespace EcrCache.Tasks.Tests.Stores.Tarballs.S3
{
    /// <summary>
    /// EcrCacheProvider=s3 against the shared moto_server (S3 API) and the real docker daemon. Objects are read back
    /// with a plain AWS SDK client, independent of the store. Each test has its own bucket, deleted afterwards.
    /// </summary>
    [TestClass]
    [TestCategory(Categories.Docker)]
    [TestCategory(Categories.Moto)]
    public sealed class S3TarballStoreMotoTests
    {
        private TarballProject _project = null!;
        private AmazonS3Client _s3 = null!;
        private string _bucket = "";
        private string _endpoint = "";

        [TestInitialize]
        public void SetUp()
        {
            _endpoint = Moto.Endpoint;
            RealDocker.Require();
            _project = new TarballProject("ecrcache-s3");
            _s3 = MotoS3.Client(_endpoint);
            _bucket = MotoS3.NewBucket(_s3);
        }

        [TestCleanup]
        public void TearDown()
        {
            _project?.Dispose();
            if (_s3 != null)
            {
                MotoS3.DeleteBucket(_s3, _bucket);
                _s3.Dispose();
            }
        }

        private CacheOptions Options(Action<RawOptions>? configure = null, IDictionary<string, string>? environment = null, int randomBytes = 0) =>
            _project.Options(
                "s3",
                MotoS3.Environment(_endpoint, environment),
                raw =>
                {
                    raw["S3Bucket"] = _bucket;
                    configure?.Invoke(raw);
                },
                randomBytes);

        private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;

        [TestMethod]
        public async Task Miss_UploadsALoadableTarball_ThenHitLoadsWithoutBuilding()
        {
            var options = Options();
            var log = new CapturingBuildLog();
            var first = await new CacheEngine(options, log).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.Built, first.Result, log.AllText);
            Assert.AreEqual(_project.Repository, first.Image, "the image keeps the repository name, as with the local provider");

            var key = _project.Repository + "/" + first.Tag + ".tar.gz";
            CollectionAssert.AreEquivalent(new[] { key, _project.Repository + "/latest.tar.gz" }, MotoS3.Keys(_s3, _bucket), "the default prefix is the repository + '/'; latest is maintained");
            Assert.AreEqual(0, MotoS3.Uploads(_s3, _bucket).Count, "no multipart upload may stay open");

            // Read the object back independently and load it into a daemon that no longer has the image.
            var file = Path.Combine(_project.Directory, "downloaded.tar.gz");
            MotoS3.Download(_s3, _bucket, key, file);
            RealDocker.RemoveRepository(_project.Repository);
            Assert.IsFalse(RealDocker.ImageExists(first.Reference));
            var load = RealDocker.Run("load", "--input", file);
            Assert.AreEqual(0, load.ExitCode, load.StandardError);
            StringAssert.Contains(load.StandardOutput, "Loaded image: " + first.Reference);
            Assert.AreEqual(_project.Repository.Replace('/', '-') + "\n", RealDocker.Run("run", "--rm", first.Reference, "cat", "/marker").StandardOutput);

            // Another machine: not in the daemon, no stamp. One HEAD finds it; the object is streamed into docker load.
            RealDocker.RemoveRepository(_project.Repository);
            _project.ForgetStamp();
            var log2 = new CapturingBuildLog();
            var second = await new CacheEngine(Options(), log2).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.HitPulled, second.Result, log2.AllText);
            Assert.AreEqual(first.Reference, second.Reference);
            Assert.IsTrue(RealDocker.ImageExists(second.Reference), "the hit must leave a runnable image in the daemon");
            Assert.IsFalse(log2.AllText.Contains("Building with", StringComparison.Ordinal), "a hit never builds:\n" + log2.AllText);
            StringAssert.Contains(log2.AllText, "docker load");
        }

        [TestMethod]
        public async Task LifecycleRule_ExpiresThePrefix_KeepsOtherRules_AndIsWrittenOnlyWhenItDiffers()
        {
            // A rule somebody else owns must survive.
            await _s3.PutLifecycleConfigurationAsync(new PutLifecycleConfigurationRequest
            {
                BucketName = _bucket,
                Configuration = new LifecycleConfiguration
                {
                    Rules = new List<LifecycleRule>
                    {
                        new LifecycleRule { Id = "logs", Status = LifecycleRuleStatus.Enabled, Filter = new LifecycleFilter { Prefix = "logs/" }, Expiration = new LifecycleRuleExpiration { Days = 30 } },
                    },
                },
            });

            var log = new CapturingBuildLog();
            var settings = S3ClientFactory.ResolveSettings(null, MotoS3.Environment(_endpoint));
            using (var store = new S3TarballStore(S3ClientFactory.Create(settings, new EcrCache.Stores.Ecr.StaticAwsCredentialSource(Moto.TestCredentials)), settings.Region, _bucket, "ci/app/", "x", 3, new DockerCli(RealDocker.Executable, ProcessRunner.Instance, log), log))
            {
                await store.PrepareAsync(Timeout());
            }

            StringAssert.Contains(log.AllText, "Set the lifecycle rule ecrcache:ci/app/");
            var rules = (await _s3.GetLifecycleConfigurationAsync(_bucket)).Configuration.Rules;
            Assert.AreEqual(2, rules.Count, "the other rule is kept");
            var logs = rules.Single(r => r.Id == "logs");
            Assert.AreEqual(30, logs.Expiration.Days);
            var ours = rules.Single(r => r.Id == "ecrcache:ci/app/");
            Assert.AreEqual(LifecycleRuleStatus.Enabled, ours.Status);
            Assert.AreEqual("ci/app/", S3LifecycleRules.RulePrefix(ours));
            Assert.AreEqual(3, ours.Expiration.Days);
            Assert.AreEqual(1, ours.AbortIncompleteMultipartUpload?.DaysAfterInitiation, "killed uploads are cleaned up by S3");

            // Same settings again: read, not written.
            var log2 = new CapturingBuildLog();
            using (var store = new S3TarballStore(S3ClientFactory.Create(settings, new EcrCache.Stores.Ecr.StaticAwsCredentialSource(Moto.TestCredentials)), settings.Region, _bucket, "ci/app/", "x", 3, new DockerCli(RealDocker.Executable, ProcessRunner.Instance, log2), log2))
            {
                await store.PrepareAsync(Timeout());
            }

            Assert.IsFalse(log2.AllText.Contains("Set the lifecycle rule", StringComparison.Ordinal), log2.AllText);
            StringAssert.Contains(log2.AllText, "already expires tarballs 3 days after upload");
            Assert.AreEqual(0, log2.Warnings.Count);
        }

        [TestMethod]
        public async Task DocumentedIamPolicy_IsEnough_AndWithoutLifecycleActionsTheRuleIsOnlyAWarning()
        {
            // moto enforces IAM only when asked to: a server of our own does, after the set-up calls (CreateBucket, then
            // CreateUser, PutUserPolicy, CreateAccessKey per user) have gone through unauthenticated.
            using var own = OwnMotoServer.Start(new Dictionary<string, string> { ["INITIAL_NO_AUTH_ACTION_COUNT"] = "10" });
            using (var admin = MotoS3.Client(own.Endpoint))
            {
                await admin.PutBucketAsync("ecrcache-iam");
            }

            var documented = DocumentedPolicy().Replace("arn:aws:s3:::my-ci-cache/build-cache/*", "*").Replace("arn:aws:s3:::my-ci-cache", "*");
            var withoutLifecycle = Without(documented, "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration");
            var withoutPut = Without(documented, "s3:PutObject");
            var keys = Boto3.Run(
                "import boto3, json\n"
                + "iam = boto3.client('iam', endpoint_url='" + own.Endpoint + "', region_name='us-east-1')\n"
                + "for i, p in enumerate(json.loads(" + System.Text.Json.JsonSerializer.Serialize(System.Text.Json.JsonSerializer.Serialize(new[] { documented, withoutLifecycle, withoutPut })) + ")):\n"
                + "    iam.create_user(UserName='ci%d' % i)\n"
                + "    iam.put_user_policy(UserName='ci%d' % i, PolicyName='cache', PolicyDocument=p)\n"
                + "    k = iam.create_access_key(UserName='ci%d' % i)['AccessKey']\n"
                + "    print(k['AccessKeyId'] + ' ' + k['SecretAccessKey'])\n").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim().Split(' ')).ToList();
            Func<string[], Func<string, string?>> env = k => MotoS3.Environment(own.Endpoint, new Dictionary<string, string> { ["AWS_ACCESS_KEY_ID"] = k[0], ["AWS_SECRET_ACCESS_KEY"] = k[1] });

            // 1. The documented policy: miss (rule written, tarball and latest uploaded), then a hit on another machine.
            var log = new CapturingBuildLog();
            var first = await new CacheEngine(_project.Options("s3", env(keys[0]), raw => raw["S3Bucket"] = "ecrcache-iam"), log).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.Built, first.Result, log.AllText);
            Assert.AreEqual(0, log.Warnings.Count, "the documented policy allows every call:\n" + log.AllText);
            StringAssert.Contains(log.AllText, "Set the lifecycle rule");
            RealDocker.RemoveRepository(_project.Repository);
            _project.ForgetStamp();
            var log2 = new CapturingBuildLog();
            var second = await new CacheEngine(_project.Options("s3", env(keys[0]), raw => raw["S3Bucket"] = "ecrcache-iam"), log2).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.HitPulled, second.Result, log2.AllText);
            Assert.AreEqual(0, log2.Warnings.Count, log2.AllText);

            // 2. Without the lifecycle actions: ECRC1706 names the action, and the cache still works.
            RealDocker.RemoveRepository(_project.Repository);
            _project.ForgetStamp();
            var log3 = new CapturingBuildLog();
            var third = await new CacheEngine(_project.Options("s3", env(keys[1]), raw => { raw["S3Bucket"] = "ecrcache-iam"; raw["MaxAgeDays"] = "5"; }), log3).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.HitPulled, third.Result, log3.AllText);
            CollectionAssert.Contains(log3.WarningCodes.ToList(), "ECRC1706", log3.AllText);
            StringAssert.Contains(log3.Warnings.First(w => w.Code == "ECRC1706").Message, "s3:GetLifecycleConfiguration");

            // 3. Without s3:PutObject: a miss builds, the upload is refused, ECRC1703 names the action, nothing is stored.
            var log4 = new CapturingBuildLog();
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(async () =>
                await new CacheEngine(_project.Options("s3", env(keys[2]), raw => { raw["S3Bucket"] = "ecrcache-iam"; raw["DockerfileInline"] += "RUN echo other > /other\n"; }), log4).EnsureAsync(Timeout()));
            Assert.AreEqual("ECRC1703", ex.Diagnostic.Code, ex.Message + "\n" + log4.AllText);
            StringAssert.Contains(ex.Diagnostic.Message, "s3:PutObject");
        }

        private static string Without(string policy, params string[] removed)
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(policy)!;
            var statements = node["Statement"]!.AsArray();
            foreach (var statement in statements.ToList())
            {
                var actions = statement!["Action"]!.AsArray();
                foreach (var action in actions.ToList())
                {
                    if (removed.Contains((string?)action))
                    {
                        actions.Remove(action);
                    }
                }

                if (actions.Count == 0)
                {
                    statements.Remove(statement);
                }
            }

            return node.ToJsonString();
        }

        /// <summary>The JSON block after &lt;!-- s3-iam-policy --&gt; in docs/tarball.md.</summary>
        private static string DocumentedPolicy()
        {
            var doc = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "tarball.md"));
            var match = System.Text.RegularExpressions.Regex.Match(doc, "<!-- s3-iam-policy -->\\s*```json\\s*(.*?)```", System.Text.RegularExpressions.RegexOptions.Singleline);
            Assert.IsTrue(match.Success, "docs/tarball.md must hold the IAM policy in a ```json block after <!-- s3-iam-policy -->");
            return System.Text.Json.Nodes.JsonNode.Parse(match.Groups[1].Value)!.ToJsonString();
        }

        [TestMethod]
        public async Task MetaData_IsTheObjectUri()
        {
            var agentDir = TestPaths.NewTempDirectory("ecrc-s3-agent");
            var agent = Path.Combine(agentDir, "buildkite-agent");
            // A fake buildkite-agent (there is no real agent on test machines): records argv and stdin.
            File.WriteAllText(agent, "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$(dirname \"$0\")/argv\"\ncat > \"$(dirname \"$0\")/stdin\"\n");
            File.SetUnixFileMode(agent, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var options = Options(raw =>
            {
                raw["MetadataKey"] = "docker-cache-image";
                raw["BuildkiteAgentPath"] = agent;
                raw["S3Prefix"] = "/pipelines/web";
            });

            var log = new CapturingBuildLog();
            var result = await new CacheEngine(options, log).EnsureAsync(Timeout());

            Assert.AreEqual("meta-data\nset\ndocker-cache-image\n", File.ReadAllText(Path.Combine(agentDir, "argv")));
            Assert.AreEqual("s3://" + _bucket + "/pipelines/web/" + result.Tag + ".tar.gz", File.ReadAllText(Path.Combine(agentDir, "stdin")), "as the reference S3 plugin: the object's URI");
            CollectionAssert.Contains(MotoS3.Keys(_s3, _bucket), "pipelines/web/" + result.Tag + ".tar.gz");
        }

        [TestMethod]
        public async Task UploadCancelledHalfWay_LeavesNoObjectAndNoOpenMultipartUpload()
        {
            // ~12 MB of random bytes: at least three 5 MiB parts. Cancel as soon as the first part is stored.
            var options = Options(randomBytes: 12_000_000);
            var log = new CapturingBuildLog();
            var engine = new CacheEngine(options, log);
            using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            var partsSeen = 0;
            engine.StoreFactory = (o, docker, l) =>
            {
                var store = S3TarballStore.Create(o, docker, l);
                store.PartSize = 5 * 1024 * 1024;
                store.PartUploaded = (n, _) =>
                {
                    Interlocked.Increment(ref partsSeen);
                    cancel.Cancel();
                };
                return store;
            };

            await Assert.ThrowsAsync<OperationCanceledException>(async () => await engine.EnsureAsync(cancel.Token), log.AllText).ConfigureAwait(false);

            Assert.IsTrue(partsSeen >= 1, "sanity: the upload had started:\n" + log.AllText);
            Assert.AreEqual(0, MotoS3.Keys(_s3, _bucket).Count, "nothing may appear under the final key (or latest)");
            Assert.AreEqual(0, MotoS3.Uploads(_s3, _bucket).Count, "the multipart upload must be aborted");
            StringAssert.Contains(log.AllText, "Aborted the multipart upload");
            Assert.AreEqual(0, RealDocker.ProcessesMentioning(RealDocker.Executable + " save").Count, "docker save must not outlive the cancel");
            Assert.AreEqual(0, RealDocker.Tags(_project.Repository).Count, "the unpublished local tag is removed so the next run retries");
        }

        [TestMethod]
        public async Task MultipartUpload_OfSeveralParts_RoundTrips_WithBoundedBuffers()
        {
            var options = Options(randomBytes: 12_000_000);
            var log = new CapturingBuildLog();
            var engine = new CacheEngine(options, log);
            S3TarballStore? created = null;
            engine.StoreFactory = (o, docker, l) =>
            {
                created = S3TarballStore.Create(o, docker, l);
                created.PartSize = 5 * 1024 * 1024;
                created.MaxPartsInFlight = 1; // 3 parts through 2 buffers: a buffer per part would show as 3
                return created;
            };

            var result = await engine.EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.Built, result.Result, log.AllText);
            StringAssert.Matches(log.AllText, new System.Text.RegularExpressions.Regex(@"Uploaded s3://\S+ .*\(3 parts"));
            Assert.IsNotNull(created);
            Assert.IsTrue(created!.LastUploadBuffers <= created.MaxPartsInFlight + 1, $"memory is bounded by the part buffers: {created.LastUploadBuffers} allocated for 3 parts with {created.MaxPartsInFlight} in flight");

            RealDocker.RemoveRepository(_project.Repository);
            _project.ForgetStamp();
            var log2 = new CapturingBuildLog();
            var second = await new CacheEngine(Options(randomBytes: 12_000_000), log2).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.HitPulled, second.Result, log2.AllText);
            Assert.AreEqual("12000000\n", RealDocker.Run("run", "--rm", second.Reference, "sh", "-c", "wc -c < /blob").StandardOutput.TrimStart());
        }

        [TestMethod]
        public async Task CorruptObject_IsIgnoredWithAWarning_AndRebuilt()
        {
            var first = await new CacheEngine(Options(), new CapturingBuildLog()).EnsureAsync(Timeout());
            var key = _project.Repository + "/" + first.Tag + ".tar.gz";
            var file = Path.Combine(_project.Directory, "whole.tar.gz");
            MotoS3.Download(_s3, _bucket, key, file);
            var bytes = File.ReadAllBytes(file);
            await _s3.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = key, InputStream = new MemoryStream(bytes, 0, bytes.Length / 2) });
            RealDocker.RemoveRepository(_project.Repository);
            _project.ForgetStamp();

            var log = new CapturingBuildLog();
            var second = await new CacheEngine(Options(), log).EnsureAsync(Timeout());

            Assert.AreEqual(CacheResult.Built, second.Result, log.AllText);
            CollectionAssert.Contains(log.WarningCodes.ToList(), "ECRC1742", log.AllText);

            // The corrupt object was replaced by a complete gzip tarball of the rebuilt image. Its size is not
            // compared with the first upload: a rebuild from the layer cache saves a tarball whose metadata (and
            // so its gzip length) differs by a few hundred bytes.
            var rebuiltId = RealDocker.Run("image", "inspect", "--format", "{{.Id}}", second.Reference).StandardOutput.Trim();
            MotoS3.Download(_s3, _bucket, key, file);
            AssertCompleteGzip(file);
            RealDocker.RemoveRepository(_project.Repository);
            var load = RealDocker.Run("load", "--input", file);
            Assert.AreEqual(0, load.ExitCode, load.StandardError);
            StringAssert.Contains(load.StandardOutput, "Loaded image: " + second.Reference);
            Assert.AreEqual(rebuiltId, RealDocker.Run("image", "inspect", "--format", "{{.Id}}", second.Reference).StandardOutput.Trim(), "the object holds the rebuilt image");

            // So the next run is a hit again, not a rebuild forever.
            RealDocker.RemoveRepository(_project.Repository);
            _project.ForgetStamp();
            var log3 = new CapturingBuildLog();
            var third = await new CacheEngine(Options(), log3).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.HitPulled, third.Result, log3.AllText);
            CollectionAssert.DoesNotContain(log3.WarningCodes.ToList(), "ECRC1742", log3.AllText);
        }

        /// <summary>Decompresses the whole file and checks gzip's length trailer against what came out.</summary>
        private static void AssertCompleteGzip(string file)
        {
            long decompressed = 0;
            using (var gzip = new System.IO.Compression.GZipStream(File.OpenRead(file), System.IO.Compression.CompressionMode.Decompress))
            {
                var buffer = new byte[81920];
                int read;
                while ((read = gzip.Read(buffer, 0, buffer.Length)) > 0)
                {
                    decompressed += read;
                }
            }

            var bytes = File.ReadAllBytes(file);
            var trailer = BitConverter.ToUInt32(bytes, bytes.Length - 4);
            Assert.IsTrue(decompressed > 0, "the object decompresses to a tarball");
            Assert.AreEqual(trailer, (uint)(decompressed & 0xFFFFFFFF), "gzip's length trailer matches what was decompressed: the object is complete");
        }

        [TestMethod]
        public async Task CacheFrom_LoadsLatest_AndPassesItToTheBuild()
        {
            var first = await new CacheEngine(Options(), new CapturingBuildLog()).EnsureAsync(Timeout());
            RealDocker.RemoveRepository(_project.Repository);
            _project.ForgetStamp();

            // Another Dockerfile (another key): a miss, with latest (the first image) as the layer-cache source.
            var log = new CapturingBuildLog();
            var options = Options(raw => raw["DockerfileInline"] += "RUN echo second > /second\n");
            var second = await new CacheEngine(options, log).EnsureAsync(Timeout());

            Assert.AreEqual(CacheResult.Built, second.Result, log.AllText);
            Assert.AreNotEqual(first.Tag, second.Tag);
            StringAssert.Contains(log.AllText, "--cache-from " + first.Reference);
            Assert.IsTrue(RealDocker.ImageExists(first.Reference), "latest was loaded before the build");
        }

        [TestMethod]
        public async Task MissingBucket_IsECRC1708()
        {
            var options = _project.Options("s3", MotoS3.Environment(_endpoint), raw => raw["S3Bucket"] = "ecrcache-missing-" + Guid.NewGuid().ToString("N").Substring(0, 8));
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(async () => await new CacheEngine(options, new CapturingBuildLog()).EnsureAsync(Timeout()));
            Assert.AreEqual("ECRC1708", ex.Diagnostic.Code, ex.Message);
            Assert.AreEqual(0, RealDocker.Tags(_project.Repository).Count, "nothing is built for a bucket that does not exist");
        }
    }
}
