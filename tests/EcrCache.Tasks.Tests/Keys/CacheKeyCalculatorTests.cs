using System.Security.Cryptography;
using System.Text;
using EcrCache.Diagnostics;
using EcrCache.Keys;

namespace EcrCache.Tasks.Tests.Keys
{
    [TestClass]
    public sealed class CacheKeyCalculatorTests
    {
        private static string Sha256Hex(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

        private static string Sha256Hex(string text) => Sha256Hex(Encoding.UTF8.GetBytes(text));

        private static KeyInputs Inputs(Action<KeyInputs>? configure = null)
        {
            var inputs = new KeyInputs { DockerfileInline = "FROM busybox\nRUN true\n", Platform = "linux/amd64" };
            configure?.Invoke(inputs);
            return inputs;
        }

        private static string Key(KeyInputs inputs, int maxParallelism = 0) =>
            CacheKeyCalculator.Compute(inputs, maxParallelism: maxParallelism).Hash;

        private static EcrCacheException Fails(KeyInputs inputs, string code, int maxParallelism = 0)
        {
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => CacheKeyCalculator.Compute(inputs, maxParallelism: maxParallelism));
            Assert.AreEqual(code, ex.Diagnostic.Code, ex.Message);
            return ex;
        }

        // ---- known answers: pin the documented format (values computed independently with python's hashlib) ----

        [TestMethod]
        public void KnownAnswer()
        {
            using var files = new KeyTestFiles();
            var dockerfile = files.Write("Dockerfile", "FROM busybox\r\n");
            files.Write("src/app.txt", "hello\n");
            var inputs = new KeyInputs { DockerfilePath = dockerfile, Platform = "linux/amd64" };
            inputs.BuildArgs.Add(new KeyValuePair<string, string?>("VERSION", "1.2.3"));
            inputs.BuildArgs.Add(new KeyValuePair<string, string?>("A", "x"));
            inputs.CacheOn.Add(new CacheOnInput(files.FullPath("src/app.txt"), "src\\app.txt"));
            inputs.ExtraInputs.Add(new KeyValuePair<string, string>("base", "sha256:0000"));

            var key = CacheKeyCalculator.Compute(inputs);

            Assert.AreEqual(
                "algorithm\tecrcache\t2\n"
                + "dockerfile\tDockerfile\tbd6eb7cda7ad09a623e33e656ea3d9cc9f9d6fca40fb80b26c15b4638d2025b3\n"
                + "platform\t\tlinux/amd64\n"
                + "build-arg\tA\tf455728aa0723f05294b272674975462c8972ff638fa9a5d2743b3d2ec3606b8\n"
                + "build-arg\tVERSION\t97f6d902760fdc2e4a7d444b87a5228cc8cb88be5ff3c79a445f6834c6a3af88\n"
                + "file\tsrc/app.txt\t5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\n"
                + "extra\tbase\tsha256:0000\n",
                key.Manifest.ToKeyText());
            Assert.AreEqual("408bbf2a527ea7470b5b98e9fb06402949a465bd493735fb1c2a693ef6dca56f", key.Hash);
            Assert.AreEqual("408bbf2a527ea7470b5b98e9", key.Tag);
            Assert.AreEqual(CacheKeyCalculator.TagLength, key.Tag.Length);
            Assert.AreEqual(KeyManifest.AlgorithmVersion, key.Manifest.Version);
        }

        [TestMethod]
        public void KnownAnswerWithTargetAdditionalArgsJsonAndEscapedNames()
        {
            using var files = new KeyTestFiles();
            files.Write("package.json", """
                {
                  // comments and trailing commas are allowed
                  "version": "3.1.4",
                  "engines": { "node": ">=18" },
                  "dependencies": {
                    "z": [1.0, true, null, "\u00e9\t"],
                    "left-pad": "1.3.0",
                    "@scope/pkg": "^1.0.0",
                  },
                }
                """);
            var inputs = new KeyInputs
            {
                DockerfileInline = "FROM busybox AS final\r\n",
                Target = "final",
                Platform = "linux/arm64",
                AdditionalBuildArgs = "  --network=host --no-cache-filter=x \n",
            };
            inputs.CacheOn.Add(files.CacheOn("./package.json", ".[\"engines\"][\"node\"]"));
            inputs.CacheOn.Add(files.CacheOn("package.json", ".dependencies"));
            inputs.ExtraInputs.Add(new KeyValuePair<string, string>("tab\there", "v\\1"));

            var key = CacheKeyCalculator.Compute(inputs);

            Assert.AreEqual(
                "algorithm\tecrcache\t2\n"
                + "dockerfile\tDockerfile\t0088d410f83c2bb2ec3552bc687d055ae5657472b0fe4bb0b72f11bcbc73f7e1\n"
                + "target\t\tfinal\n"
                + "platform\t\tlinux/arm64\n"
                + "additional-build-args\t\t09f78ecf092640b515d9b19c5b137908bba49e71e2b3676d5463376db03d95ed\n"
                + "json\tpackage.json#.dependencies\t147c8f6df8a95cc34e7e6a88714cbce7ad61ef76bb784c93aba03987e512ad4a\n"
                + "json\tpackage.json#.engines.node\t33102baf503be2635e228bf733cfa5c789f1d5e66d5e11d2749a63ce4d2acb92\n"
                + "extra\ttab\\there\tv\\\\1\n",
                key.Manifest.ToKeyText());
            Assert.AreEqual("9416d82aa7066f3c37bdb99a3a8049a57ee207a71d9ca081dbd834973b34b771", key.Hash);
        }

        // ---- stability ----

        [TestMethod]
        public void KeyIsStableAcrossPathSeparatorsItemOrderAndBuildArgOrder()
        {
            using var files = new KeyTestFiles();
            files.Write("a/b.json", "{\"x\":1}");
            files.Write("a/c.txt", "c");
            files.Write("d.txt", "d");

            var first = Inputs(i =>
            {
                i.CacheOn.Add(new CacheOnInput(files.FullPath("a/b.json"), "a\\b.json"));
                i.CacheOn.Add(new CacheOnInput(files.FullPath("a/c.txt"), ".\\a\\c.txt"));
                i.CacheOn.Add(files.CacheOn("d.txt"));
                i.BuildArgs.Add(new KeyValuePair<string, string?>("B", "2"));
                i.BuildArgs.Add(new KeyValuePair<string, string?>("A", "1"));
                i.ExtraInputs.Add(new KeyValuePair<string, string>("y", "2"));
                i.ExtraInputs.Add(new KeyValuePair<string, string>("x", "1"));
            });
            var second = Inputs(i =>
            {
                i.CacheOn.Add(files.CacheOn("d.txt"));
                i.CacheOn.Add(new CacheOnInput(files.FullPath("a/c.txt"), "a//c.txt"));
                i.CacheOn.Add(new CacheOnInput(files.FullPath("a/b.json"), "a/b.json"));
                i.BuildArgs.Add(new KeyValuePair<string, string?>("A", "1"));
                i.BuildArgs.Add(new KeyValuePair<string, string?>("B", "2"));
                i.ExtraInputs.Add(new KeyValuePair<string, string>("x", "1"));
                i.ExtraInputs.Add(new KeyValuePair<string, string>("y", "2"));
            });

            Assert.AreEqual(Key(first), Key(second));
            Assert.AreEqual(CacheKeyCalculator.Compute(first).Manifest.ToJson(), CacheKeyCalculator.Compute(second).Manifest.ToJson());
            CollectionAssert.AreEqual(
                new[] { "a/b.json", "a/c.txt", "d.txt" },
                CacheKeyCalculator.Compute(first).Manifest.Entries.Where(e => e.Kind == "file").Select(e => e.Name).ToArray());
        }

        [TestMethod]
        public void DuplicateCacheOnItemsAndDuplicateIdenticalArgsCountOnce()
        {
            using var files = new KeyTestFiles();
            files.Write("p.json", "{\"a\":{\"b\":1}}");
            var once = Inputs(i =>
            {
                i.CacheOn.Add(files.CacheOn("p.json"));
                i.CacheOn.Add(files.CacheOn("p.json", ".a"));
                i.BuildArgs.Add(new KeyValuePair<string, string?>("A", "1"));
            });
            var twice = Inputs(i =>
            {
                i.CacheOn.Add(files.CacheOn("p.json"));
                i.CacheOn.Add(files.CacheOn("./p.json"));
                i.CacheOn.Add(files.CacheOn("p.json", ".a"));
                i.CacheOn.Add(files.CacheOn("p.json", ".[\"a\"]"));
                i.BuildArgs.Add(new KeyValuePair<string, string?>("A", "1"));
                i.BuildArgs.Add(new KeyValuePair<string, string?>("A", "1"));
            });

            Assert.AreEqual(Key(once), Key(twice));
            Assert.AreEqual(2, CacheKeyCalculator.Compute(twice).Manifest.Entries.Count(e => e.Kind is "file" or "json"));
        }

        [TestMethod]
        public void AnUnsetBuildArgIsKeyedAsTheBareName_ApartFromAnEmptyValue()
        {
            var unset = CacheKeyCalculator.Compute(Inputs(i => i.BuildArgs.Add(new KeyValuePair<string, string?>("NODE_VERSION", null))));
            var empty = CacheKeyCalculator.Compute(Inputs(i => i.BuildArgs.Add(new KeyValuePair<string, string?>("NODE_VERSION", ""))));
            var unsetEntry = unset.Manifest.Entries.Single(e => e.Kind == "build-arg");
            var emptyEntry = empty.Manifest.Entries.Single(e => e.Kind == "build-arg");
            Assert.AreEqual(Sha256Hex("NODE_VERSION"), unsetEntry.Hash, "unset: sha256 of the name, without '='");
            Assert.AreEqual(Sha256Hex("NODE_VERSION="), emptyEntry.Hash, "empty: sha256 of 'NAME='");
            Assert.AreNotEqual(unset.Hash, empty.Hash);

            // Unset twice counts once; unset and empty for one name are two different values.
            Assert.AreEqual(unset.Hash, Key(Inputs(i =>
            {
                i.BuildArgs.Add(new KeyValuePair<string, string?>("NODE_VERSION", null));
                i.BuildArgs.Add(new KeyValuePair<string, string?>("NODE_VERSION", null));
            })));
            Fails(
                Inputs(i =>
                {
                    i.BuildArgs.Add(new KeyValuePair<string, string?>("NODE_VERSION", null));
                    i.BuildArgs.Add(new KeyValuePair<string, string?>("NODE_VERSION", ""));
                }),
                "ECRC1014");
        }

        [TestMethod]
        public void SameNameFromTwoFilesWithTheSameContentCountsOnce()
        {
            using var files = new KeyTestFiles();
            files.Write("one/x.txt", "same");
            files.Write("two/x.txt", "same");
            var inputs = Inputs(i =>
            {
                i.CacheOn.Add(new CacheOnInput(files.FullPath("one/x.txt"), "x.txt"));
                i.CacheOn.Add(new CacheOnInput(files.FullPath("two/x.txt"), "x.txt"));
            });
            Assert.AreEqual(1, CacheKeyCalculator.Compute(inputs).Manifest.Entries.Count(e => e.Kind == "file"));
        }

        [TestMethod]
        public void ResultDoesNotDependOnParallelism()
        {
            using var files = new KeyTestFiles();
            var rng = new Random(42);
            var inputs = Inputs();
            for (var n = 0; n < 300; n++)
            {
                var bytes = new byte[rng.Next(0, 300_000)];
                rng.NextBytes(bytes);
                var rel = $"dir{n % 7}/file{n}.bin";
                files.WriteBytes(rel, bytes);
                inputs.CacheOn.Add(files.CacheOn(rel));
            }

            files.Write("pkg.json", "{\"dependencies\":{\"a\":\"1\"}}");
            inputs.CacheOn.Add(files.CacheOn("pkg.json", ".dependencies"));

            var serial = CacheKeyCalculator.Compute(inputs, maxParallelism: 1);
            foreach (var parallelism in new[] { 0, 2, 3, 8, 64 })
            {
                var parallel = CacheKeyCalculator.Compute(inputs, maxParallelism: parallelism);
                Assert.AreEqual(serial.Hash, parallel.Hash, "parallelism " + parallelism);
                Assert.AreEqual(serial.Manifest.ToJson(), parallel.Manifest.ToJson());
            }

            var entry = serial.Manifest.Entries.Single(e => e.Name == "dir3/file10.bin");
            Assert.AreEqual(Sha256Hex(File.ReadAllBytes(files.FullPath("dir3/file10.bin"))), entry.Hash);
        }

        // ---- every input changes the key ----

        [TestMethod]
        public void EachInputChangesTheKey()
        {
            using var files = new KeyTestFiles();
            files.Write("a.txt", "a");
            files.Write("b.txt", "b");
            files.Write("a-copy.txt", "a");
            files.Write("a-changed.txt", "A");

            void Base(KeyInputs i)
            {
                i.DockerfileInline = "FROM busybox\n";
                i.Target = "final";
                i.Platform = "linux/amd64";
                i.BuildArgs.Add(new KeyValuePair<string, string?>("VERSION", "1"));
                i.BuildArgs.Add(new KeyValuePair<string, string?>("MODE", "release"));
                i.AdditionalBuildArgs = "--network=host";
                i.CacheOn.Add(new CacheOnInput(files.FullPath("a.txt"), "a.txt"));
                i.ExtraInputs.Add(new KeyValuePair<string, string>("base:busybox", "sha256:1111"));
            }

            var variants = new Dictionary<string, Action<KeyInputs>>
            {
                ["base"] = _ => { },
                ["dockerfile content"] = i => i.DockerfileInline = "FROM busybox:1.36\n",
                ["dockerfile trailing newline"] = i => i.DockerfileInline = "FROM busybox\n\n",
                ["target"] = i => i.Target = "build",
                ["no target"] = i => i.Target = null,
                ["platform"] = i => i.Platform = "linux/arm64",
                ["empty platform"] = i => i.Platform = "",
                ["build arg value"] = i => i.BuildArgs[0] = new KeyValuePair<string, string?>("VERSION", "2"),
                ["other build arg value"] = i => i.BuildArgs[1] = new KeyValuePair<string, string?>("MODE", "debug"),
                ["build arg empty value"] = i => i.BuildArgs[0] = new KeyValuePair<string, string?>("VERSION", ""),
                ["build arg name"] = i => i.BuildArgs[0] = new KeyValuePair<string, string?>("VERSION2", "1"),
                ["build arg name case"] = i => i.BuildArgs[0] = new KeyValuePair<string, string?>("version", "1"),
                ["build arg added"] = i => i.BuildArgs.Add(new KeyValuePair<string, string?>("EXTRA", "")),
                ["build arg unset"] = i => i.BuildArgs[0] = new KeyValuePair<string, string?>("VERSION", null),
                ["build arg unset added"] = i => i.BuildArgs.Add(new KeyValuePair<string, string?>("EXTRA", null)),
                ["build arg removed"] = i => i.BuildArgs.RemoveAt(1),
                ["additional args"] = i => i.AdditionalBuildArgs = "--network=none",
                ["no additional args"] = i => i.AdditionalBuildArgs = null,
                ["file content"] = i => i.CacheOn[0] = new CacheOnInput(files.FullPath("a-changed.txt"), "a.txt"),
                ["file renamed"] = i => i.CacheOn[0] = new CacheOnInput(files.FullPath("a-copy.txt"), "a-copy.txt"),
                ["file path case"] = i => i.CacheOn[0] = new CacheOnInput(files.FullPath("a.txt"), "A.txt"),
                ["file added"] = i => i.CacheOn.Add(new CacheOnInput(files.FullPath("b.txt"), "b.txt")),
                ["file removed"] = i => i.CacheOn.Clear(),
                ["file as json"] = i => i.CacheOn[0] = new CacheOnInput(files.FullPath("a-copy.txt"), "x.json", "."),
                ["extra value"] = i => i.ExtraInputs[0] = new KeyValuePair<string, string>("base:busybox", "sha256:2222"),
                ["extra name"] = i => i.ExtraInputs[0] = new KeyValuePair<string, string>("base:alpine", "sha256:1111"),
                ["extra added"] = i => i.ExtraInputs.Add(new KeyValuePair<string, string>("z", "")),
                ["extra removed"] = i => i.ExtraInputs.Clear(),
            };

            files.Write("x.json", "\"a\"");
            variants["file as json"] = i => i.CacheOn[0] = new CacheOnInput(files.FullPath("x.json"), "x.json", ".");

            var seen = new Dictionary<string, string>();
            foreach (var variant in variants)
            {
                var inputs = new KeyInputs();
                Base(inputs);
                variant.Value(inputs);
                var key = Key(inputs);
                Assert.IsFalse(seen.TryGetValue(key, out var other), $"'{variant.Key}' keys the same as '{other}'");
                seen.Add(key, variant.Key);
            }
        }

        [TestMethod]
        public void WhiteSpaceAroundAdditionalArgsDoesNotMatterButInsideDoes()
        {
            Assert.AreEqual(Key(Inputs(i => i.AdditionalBuildArgs = "--a --b")), Key(Inputs(i => i.AdditionalBuildArgs = "\n  --a --b  ")));
            Assert.AreNotEqual(Key(Inputs(i => i.AdditionalBuildArgs = "--a --b")), Key(Inputs(i => i.AdditionalBuildArgs = "--a  --b")));
            Assert.AreEqual(Key(Inputs()), Key(Inputs(i => i.AdditionalBuildArgs = "   ")));
            Assert.AreEqual(Key(Inputs()), Key(Inputs(i => i.Target = "")));
        }

        // ---- Dockerfile ----

        [TestMethod]
        public void InlineAndFileWithTheSameTextKeyTheSame()
        {
            using var files = new KeyTestFiles();
            const string text = "FROM busybox\nRUN echo é\n";
            var path = files.Write("sub/Custom.Dockerfile", text);
            Assert.AreEqual(Key(Inputs(i => i.DockerfileInline = text)), Key(Inputs(i => { i.DockerfileInline = null; i.DockerfilePath = path; })));
        }

        [TestMethod]
        public void CrlfDockerfileKeysLikeLf()
        {
            using var files = new KeyTestFiles();
            var lf = "FROM busybox\nRUN a \\\n  && b\n";
            var crlf = lf.Replace("\n", "\r\n");
            var lfPath = files.Write("lf.Dockerfile", lf);
            var crlfPath = files.Write("crlf.Dockerfile", crlf);

            var expected = Key(Inputs(i => i.DockerfileInline = lf));
            Assert.AreEqual(expected, Key(Inputs(i => i.DockerfileInline = crlf)));
            Assert.AreEqual(expected, Key(Inputs(i => { i.DockerfileInline = null; i.DockerfilePath = lfPath; })));
            Assert.AreEqual(expected, Key(Inputs(i => { i.DockerfileInline = null; i.DockerfilePath = crlfPath; })));
            var entry = CacheKeyCalculator.Compute(Inputs(i => { i.DockerfileInline = null; i.DockerfilePath = crlfPath; })).Manifest.Entries[1];
            Assert.AreEqual(new KeyManifestEntry("dockerfile", "Dockerfile", Sha256Hex(lf)), entry);
        }

        [TestMethod]
        public void LoneCarriageReturnsAreKept()
        {
            var lf = Key(Inputs(i => i.DockerfileInline = "FROM a\nRUN b\n"));
            Assert.AreNotEqual(lf, Key(Inputs(i => i.DockerfileInline = "FROM a\rRUN b\r")));
            Assert.AreNotEqual(lf, Key(Inputs(i => i.DockerfileInline = "FROM aRUN b")));
            Assert.AreNotEqual(Key(Inputs(i => i.DockerfileInline = "FROM a\r")), Key(Inputs(i => i.DockerfileInline = "FROM a")));
            Assert.AreEqual(Key(Inputs(i => i.DockerfileInline = "FROM a\r\n")), Key(Inputs(i => i.DockerfileInline = "FROM a\n")));
            var crcrlf = CacheKeyCalculator.Compute(Inputs(i => i.DockerfileInline = "FROM a\r\r\n"));
            Assert.AreEqual(Sha256Hex("FROM a\r\n"), crcrlf.Manifest.Entries[1].Hash, "one pass: CR CR LF becomes CR LF");
        }

        [TestMethod]
        public void CrlfNormalisationIsCorrectAcrossReadBufferBoundaries()
        {
            using var files = new KeyTestFiles();
            var rng = new Random(7);
            foreach (var boundaryOffset in new[] { -2, -1, 0, 1 })
            {
                // Put a CR LF, a lone CR and a CR CR LF around each multiple of the read buffer size.
                var size = (3 * 128 * 1024) + 100;
                var bytes = new byte[size];
                for (var b = 0; b < size; b++)
                {
                    bytes[b] = (byte)('a' + rng.Next(26));
                }

                foreach (var multiple in new[] { 1, 2, 3 })
                {
                    var at = (multiple * 128 * 1024) + boundaryOffset;
                    bytes[at - 3] = (byte)'\r';
                    bytes[at] = (byte)'\r';
                    bytes[at + 1] = (byte)'\n';
                    bytes[at + 10] = (byte)'\r';
                    bytes[at + 11] = (byte)'\r';
                    bytes[at + 12] = (byte)'\n';
                }

                bytes[size - 1] = (byte)'\r';
                var path = files.WriteBytes("Dockerfile" + boundaryOffset, bytes);
                var expected = Sha256Hex(Encoding.Latin1.GetBytes(Encoding.Latin1.GetString(bytes).Replace("\r\n", "\n")));
                var key = CacheKeyCalculator.Compute(Inputs(i => { i.DockerfileInline = null; i.DockerfilePath = path; }));
                Assert.AreEqual(expected, key.Manifest.Entries[1].Hash, "offset " + boundaryOffset);
            }
        }

        [TestMethod]
        public void DockerfileErrors()
        {
            using var files = new KeyTestFiles();
            var missing = files.FullPath("nope/Dockerfile");
            StringAssert.Contains(Fails(Inputs(i => { i.DockerfileInline = null; i.DockerfilePath = missing; }), "ECRC1001").Message, missing);
            Fails(Inputs(i => i.DockerfilePath = missing), "ECRC1002");
            Fails(Inputs(i => { i.DockerfileInline = null; i.DockerfilePath = files.Root; }), "ECRC1109");
            Assert.ThrowsExactly<ArgumentException>(() => CacheKeyCalculator.Compute(Inputs(i => i.DockerfileInline = "")));
        }

        // ---- CacheOn files ----

        [TestMethod]
        public void CacheOnFilesAreHashedAsRawBytes()
        {
            using var files = new KeyTestFiles();
            files.Write("lf.txt", "a\nb\n");
            files.Write("crlf.txt", "a\r\nb\r\n");
            var lf = CacheKeyCalculator.Compute(Inputs(i => i.CacheOn.Add(new CacheOnInput(files.FullPath("lf.txt"), "x.txt"))));
            var crlf = CacheKeyCalculator.Compute(Inputs(i => i.CacheOn.Add(new CacheOnInput(files.FullPath("crlf.txt"), "x.txt"))));
            Assert.AreNotEqual(lf.Hash, crlf.Hash);
            Assert.AreEqual(Sha256Hex("a\r\nb\r\n"), crlf.Manifest.Entries.Single(e => e.Kind == "file").Hash);
        }

        [TestMethod]
        public void EmptyCacheOnFileIsKeyed()
        {
            using var files = new KeyTestFiles();
            files.Write("empty", "");
            var key = CacheKeyCalculator.Compute(Inputs(i => i.CacheOn.Add(files.CacheOn("empty"))));
            Assert.AreEqual(Sha256Hex(Array.Empty<byte>()), key.Manifest.Entries.Single(e => e.Kind == "file").Hash);
        }

        [TestMethod]
        public void LargeFileIsStreamedAndHashedLikeSha256()
        {
            using var files = new KeyTestFiles();
            var bytes = new byte[(50 * 1024 * 1024) + 12345];
            new Random(1).NextBytes(bytes);
            files.WriteBytes("big.bin", bytes);
            var key = CacheKeyCalculator.Compute(Inputs(i => i.CacheOn.Add(files.CacheOn("big.bin"))));
            Assert.AreEqual(Sha256Hex(bytes), key.Manifest.Entries.Single(e => e.Name == "big.bin").Hash);
        }

        [TestMethod]
        public void MissingCacheOnFile()
        {
            using var files = new KeyTestFiles();
            var ex = Fails(Inputs(i => i.CacheOn.Add(files.CacheOn("sub\\missing.json"))), "ECRC1105");
            StringAssert.Contains(ex.Message, "'sub\\missing.json'");
            Fails(Inputs(i => i.CacheOn.Add(files.CacheOn("nodir/missing.json", ".a"))), "ECRC1105");
        }

        [TestMethod]
        public void AnOptionalMissingFileIsKeyedAsAbsent_AndCreatingItChangesTheKey()
        {
            using var files = new KeyTestFiles();
            KeyInputs WithOptional() => Inputs(i =>
            {
                i.CacheOn.Add(new CacheOnInput(files.FullPath(".npmrc"), ".npmrc", optional: true));
                i.CacheOn.Add(new CacheOnInput(files.FullPath("sub/package.json"), "sub/package.json", ".dependencies", optional: true));
            });

            var absent = CacheKeyCalculator.Compute(WithOptional());
            CollectionAssert.AreEqual(
                new[] { "file .npmrc absent", "json sub/package.json#.dependencies absent" },
                absent.Manifest.Entries.Where(e => e.Kind is "file" or "json").Select(e => e.Kind + " " + e.Name + " " + e.Hash).ToArray());
            Assert.AreNotEqual(Key(Inputs()), absent.Hash, "an absent Optional file is an entry of its own");

            files.Write(".npmrc", "");
            var created = CacheKeyCalculator.Compute(WithOptional());
            Assert.AreEqual(Sha256Hex(""), created.Manifest.Entries.Single(e => e.Name == ".npmrc").Hash, "even an empty file is not 'absent'");
            Assert.AreNotEqual(absent.Hash, created.Hash);

            files.Write("sub/package.json", "{}");
            Assert.AreEqual(Sha256Hex("null"), CacheKeyCalculator.Compute(WithOptional()).Manifest.Entries.Single(e => e.Kind == "json").Hash);

            // The same file listed without Optional still has to exist.
            File.Delete(files.FullPath(".npmrc"));
            Fails(Inputs(i =>
            {
                i.CacheOn.Add(new CacheOnInput(files.FullPath(".npmrc"), ".npmrc", optional: true));
                i.CacheOn.Add(new CacheOnInput(files.FullPath(".npmrc"), ".npmrc", "."));
            }), "ECRC1105");
        }

        [TestMethod]
        public void UnreadableCacheOnFile()
        {
            using var files = new KeyTestFiles();
            Directory.CreateDirectory(files.FullPath("adir"));
            Fails(Inputs(i => i.CacheOn.Add(files.CacheOn("adir"))), "ECRC1107");
        }

        [TestMethod]
        public void TheFirstFailingFileInKeyOrderIsReported()
        {
            using var files = new KeyTestFiles();
            for (var n = 0; n < 50; n++)
            {
                files.Write($"f{n:D2}.txt", "x");
            }

            foreach (var parallelism in new[] { 1, 4, 16 })
            {
                var inputs = Inputs();
                inputs.CacheOn.Add(files.CacheOn("z-missing.txt"));
                for (var n = 49; n >= 0; n--)
                {
                    inputs.CacheOn.Add(files.CacheOn($"f{n:D2}.txt"));
                }

                inputs.CacheOn.Add(files.CacheOn("f33-missing.txt"));
                inputs.CacheOn.Add(files.CacheOn("f07-missing.txt"));
                StringAssert.Contains(Fails(inputs, "ECRC1105", parallelism).Message, "'f07-missing.txt'");
            }
        }

        [TestMethod]
        public void DifferentFilesWithTheSameNameAreAnError()
        {
            using var files = new KeyTestFiles();
            files.Write("one/x.txt", "1");
            files.Write("two/x.txt", "2");
            var ex = Fails(Inputs(i =>
            {
                i.CacheOn.Add(new CacheOnInput(files.FullPath("one/x.txt"), "x.txt"));
                i.CacheOn.Add(new CacheOnInput(files.FullPath("two/x.txt"), "./x.txt"));
            }), "ECRC1108");
            StringAssert.Contains(ex.Message, "'x.txt'");
        }

        [TestMethod]
        public void EmptyRelativePathIsRejected()
        {
            using var files = new KeyTestFiles();
            files.Write("x", "");
            Assert.ThrowsExactly<ArgumentException>(() => CacheKeyCalculator.Compute(Inputs(i => i.CacheOn.Add(new CacheOnInput(files.FullPath("x"), "./")))));
        }

        // ---- JSON paths ----

        private const string PackageJson = """
            {
              "name": "app",
              "version": "1.0.0",
              "dependencies": { "left-pad": "1.3.0", "react": "18.2.0", "n": 1 },
              "devDependencies": { "jest": "29.0.0" }
            }
            """;

        private static string JsonKey(KeyTestFiles files, string content, string jsonPath = ".dependencies")
        {
            files.Write("package.json", content);
            return Key(Inputs(i => i.CacheOn.Add(files.CacheOn("package.json", jsonPath))));
        }

        [TestMethod]
        public void JsonPathKeysOnlyTheSelectedValue()
        {
            using var files = new KeyTestFiles();
            var baseline = JsonKey(files, PackageJson);

            Assert.AreEqual(baseline, JsonKey(files, PackageJson.Replace("\"1.0.0\"", "\"1.0.1\"")), "version bump outside .dependencies");
            Assert.AreEqual(baseline, JsonKey(files, PackageJson.Replace("29.0.0", "30.0.0")), "devDependencies change");
            Assert.AreEqual(baseline, JsonKey(files, PackageJson.Replace("\n", "\r\n")), "CRLF");
            Assert.AreEqual(baseline, JsonKey(files, "\uFEFF" + PackageJson), "BOM");
            Assert.AreEqual(baseline, JsonKey(files, "/* c */" + PackageJson.Replace("\"n\": 1 }", "\"n\": 1, } /* x */")), "comments, trailing comma");
            Assert.AreEqual(
                baseline,
                JsonKey(files, "{\"dependencies\":{\"n\":1,\n\n   \"react\" :\"18.2.0\",\"left-pad\":\"1.3.\\u0030\"}}"),
                "member order, white space and escapes inside the selection");
            Assert.AreEqual(baseline, JsonKey(files, PackageJson, ".[\"dependencies\"]"), "path spelling");

            Assert.AreNotEqual(baseline, JsonKey(files, PackageJson.Replace("18.2.0", "18.3.0")), "dependency version");
            Assert.AreNotEqual(baseline, JsonKey(files, PackageJson.Replace("\"left-pad\"", "\"right-pad\"")), "dependency name");
            Assert.AreNotEqual(baseline, JsonKey(files, PackageJson.Replace("\"n\": 1", "\"n\": 1.0")), "1.0 is not 1 (numbers as written)");
            Assert.AreNotEqual(baseline, JsonKey(files, PackageJson.Replace("\"n\": 1", "\"n\": \"1\"")), "string is not number");
            Assert.AreNotEqual(baseline, JsonKey(files, PackageJson, ".devDependencies"), "other path");
        }

        [TestMethod]
        public void JsonPathWholeDocumentIgnoresFormattingOnly()
        {
            using var files = new KeyTestFiles();
            var whole = JsonKey(files, PackageJson, ".");
            Assert.AreEqual(whole, JsonKey(files, "{\"devDependencies\":{\"jest\":\"29.0.0\"},\"name\":\"app\",\"version\":\"1.0.0\",\"dependencies\":{\"left-pad\":\"1.3.0\",\"react\":\"18.2.0\",\"n\":1}}", "."));
            Assert.AreNotEqual(whole, JsonKey(files, PackageJson.Replace("\"1.0.0\"", "\"1.0.1\""), "."));
        }

        [TestMethod]
        public void JsonEntryIsNamedByNormalisedPathAndCanonicalJsonPath()
        {
            using var files = new KeyTestFiles();
            files.Write("a/package.json", PackageJson);
            var key = CacheKeyCalculator.Compute(Inputs(i => i.CacheOn.Add(new CacheOnInput(files.FullPath("a/package.json"), ".\\a\\package.json", " .[\"dependencies\"][\"left-pad\"] "))));
            var entry = key.Manifest.Entries.Single(e => e.Kind == "json");
            Assert.AreEqual("a/package.json#.dependencies.left-pad", entry.Name);
            Assert.AreEqual(Sha256Hex("\"1.3.0\""), entry.Hash);
        }

        [TestMethod]
        public void AJsonPathThatSelectsNothingIsKeyedAsNull_LikeJq()
        {
            // The plugin's own README example keys .pnpm.overrides, which most package.json files do not have: jq
            // printed null and the build went on.
            using var files = new KeyTestFiles();
            files.Write("package.json", PackageJson);
            var key = CacheKeyCalculator.Compute(Inputs(i =>
            {
                i.CacheOn.Add(files.CacheOn("package.json", ".pnpm.overrides"));
                i.CacheOn.Add(files.CacheOn("package.json", ".dependencies.vue"));
            }));
            var entries = key.Manifest.Entries.Where(e => e.Kind == "json").ToDictionary(e => e.Name, e => e.Hash);
            Assert.AreEqual(Sha256Hex("null"), entries["package.json#.pnpm.overrides"], "a missing member, and a member of null, select null");
            Assert.AreEqual(Sha256Hex("null"), entries["package.json#.dependencies.vue"]);

            // An explicit null keys the same (jq prints null either way); the value appearing changes the key.
            var missing = JsonKey(files, PackageJson, ".pnpm.overrides");
            Assert.AreEqual(missing, JsonKey(files, PackageJson.Replace("\"name\": \"app\",", "\"name\": \"app\", \"pnpm\": null,"), ".pnpm.overrides"));
            Assert.AreNotEqual(missing, JsonKey(files, PackageJson.Replace("\"name\": \"app\",", "\"name\": \"app\", \"pnpm\": { \"overrides\": { \"a\": \"1\" } },"), ".pnpm.overrides"));
            files.Write("list.json", "[1, 2]");
            foreach (var path in new[] { ".[5]", ".[-3]", ".[9].a" })
            {
                var entry = CacheKeyCalculator.Compute(Inputs(i => i.CacheOn.Add(files.CacheOn("list.json", path)))).Manifest.Entries.Single(e => e.Kind == "json");
                Assert.AreEqual(Sha256Hex("null"), entry.Hash, path + ": an index out of range selects null");
            }
        }

        [TestMethod]
        public void JsonErrors()
        {
            using var files = new KeyTestFiles();
            files.Write("package.json", PackageJson);
            files.Write("bad.json", "{\"dependencies\": {");

            // jq's "Cannot index string with \"first\"": a coded error naming the path, the file and where it failed.
            var wrongType = Fails(Inputs(i => i.CacheOn.Add(files.CacheOn("package.json", ".name.first"))), "ECRC1101");
            StringAssert.Contains(wrongType.Message, "'.name.first'");
            StringAssert.Contains(wrongType.Message, "'package.json'");
            StringAssert.Contains(wrongType.Message, ".name is a string, which cannot be indexed with \"first\"");
            Fails(Inputs(i => i.CacheOn.Add(files.CacheOn("package.json", ".dependencies[0]"))), "ECRC1101");

            var invalid = Fails(Inputs(i => i.CacheOn.Add(files.CacheOn("bad.json", ".dependencies"))), "ECRC1102");
            StringAssert.Contains(invalid.Message, "'bad.json'");
            StringAssert.Contains(invalid.Message, "'.dependencies'");

            var badPath = Fails(Inputs(i => i.CacheOn.Add(files.CacheOn("package.json", "dependencies"))), "ECRC1103");
            StringAssert.Contains(badPath.Message, "'package.json'");

            // The path is checked before any file is read.
            Fails(Inputs(i => i.CacheOn.Add(files.CacheOn("missing.json", ".a..b"))), "ECRC1103");
        }

        [TestMethod]
        public void InvalidJsonWithoutJsonPathIsJustBytes()
        {
            using var files = new KeyTestFiles();
            files.Write("bad.json", "{ not json");
            Assert.AreEqual(64, Key(Inputs(i => i.CacheOn.Add(files.CacheOn("bad.json")))).Length);
        }

        // ---- build args ----

        [TestMethod]
        public void ManifestNeverContainsBuildArgValues()
        {
            const string canary = "CANARY-s3cr3t-7f3a9";
            var key = CacheKeyCalculator.Compute(Inputs(i =>
            {
                i.BuildArgs.Add(new KeyValuePair<string, string?>("NPM_TOKEN", canary));
                i.BuildArgs.Add(new KeyValuePair<string, string?>("B64", Convert.ToBase64String(Encoding.UTF8.GetBytes(canary))));
            }));
            var json = key.Manifest.ToJson();
            Assert.IsFalse(json.Contains("s3cr3t", StringComparison.Ordinal), json);
            Assert.IsFalse(key.Manifest.ToKeyText().Contains("s3cr3t", StringComparison.Ordinal));
            Assert.IsFalse(json.Contains(Convert.ToBase64String(Encoding.UTF8.GetBytes(canary)), StringComparison.Ordinal));
            StringAssert.Contains(json, "NPM_TOKEN");
            Assert.AreEqual(Sha256Hex("NPM_TOKEN=" + canary), key.Manifest.Entries.Single(e => e.Name == "NPM_TOKEN").Hash);
        }

        [TestMethod]
        public void BuildArgErrors()
        {
            Fails(Inputs(i =>
            {
                i.BuildArgs.Add(new KeyValuePair<string, string?>("A", "1"));
                i.BuildArgs.Add(new KeyValuePair<string, string?>("A", "2"));
            }), "ECRC1014");
            Fails(Inputs(i => i.BuildArgs.Add(new KeyValuePair<string, string?>("", "1"))), "ECRC1003");
        }

        // ---- cancellation and arguments ----

        [TestMethod]
        public void CancelledTokenThrows()
        {
            using var files = new KeyTestFiles();
            files.Write("a.txt", "a");
            using var cts = new CancellationTokenSource();
            cts.Cancel();
            var inputs = Inputs(i => i.CacheOn.Add(files.CacheOn("a.txt")));
            Assert.Throws<OperationCanceledException>(() => CacheKeyCalculator.Compute(inputs, cts.Token));
        }

        [TestMethod]
        public void CancellationDuringHashingThrows()
        {
            if (!OperatingSystem.IsLinux())
            {
                Assert.Inconclusive("Uses /dev/zero as an endless file.");
            }

            using var files = new KeyTestFiles();
            files.Write("a.txt", "a");
            var inputs = Inputs(i =>
            {
                i.CacheOn.Add(files.CacheOn("a.txt"));
                i.CacheOn.Add(new CacheOnInput("/dev/zero", "endless.bin"));
            });

            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            var task = Task.Run(() => CacheKeyCalculator.Compute(inputs, cts.Token, maxParallelism: 2));
            Assert.AreSame(task, Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(60))).Result, "cancellation was not observed");
            Assert.Throws<OperationCanceledException>(() => task.GetAwaiter().GetResult());
        }

        [TestMethod]
        public void HashWorkerObservesCancellationWhileReading()
        {
            using var files = new KeyTestFiles();
            var path = files.WriteBytes("big.bin", new byte[1024 * 1024]);
            using var cts = new CancellationTokenSource();
            cts.Cancel();
            using var worker = new HashWorker();
            Assert.Throws<OperationCanceledException>(() => worker.HashFile(path, cts.Token));
        }

        [TestMethod]
        public void ArgumentChecks()
        {
            Assert.ThrowsExactly<ArgumentNullException>(() => CacheKeyCalculator.Compute(null!));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => CacheKeyCalculator.Compute(Inputs(), maxParallelism: -1));
            Assert.ThrowsExactly<ArgumentNullException>(() => new CacheOnInput(null!, "a"));
            Assert.ThrowsExactly<ArgumentNullException>(() => new CacheOnInput("/a", null!));
            Assert.ThrowsExactly<ArgumentException>(() => CacheKeyCalculator.Compute(Inputs(i =>
            {
                i.ExtraInputs.Add(new KeyValuePair<string, string>("x", "1"));
                i.ExtraInputs.Add(new KeyValuePair<string, string>("x", "2"));
            })));
        }
    }
}
