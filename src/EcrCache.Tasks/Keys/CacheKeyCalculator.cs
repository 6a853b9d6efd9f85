// Cache key format, algorithm version 1
// =====================================
//
// (This comment is the specification; docs/ copies it. CacheKeyCalculatorTests.KnownAnswer pins the example below.)
//
// A cache key is the SHA-256 of a *manifest*: a list of entries (Kind, Name, Hash). sha256(x) below is the SHA-256 of
// the bytes x written as 64 lower-case hex digits; text is always encoded as UTF-8 without a BOM (a lone surrogate
// becomes U+FFFD). The entries, in this order:
//
//  1. ("algorithm", "ecrcache", "1"): the algorithm version, always first.
//  2. ("dockerfile", "Dockerfile", sha256(D)): D is the Dockerfile content with every CR LF pair replaced by LF (a lone
//     CR is kept, a BOM is kept). The content is the file's bytes (DockerfilePath) or the UTF-8 of the inline text
//     (DockerfileInline), so an inline Dockerfile and a file with the same text give the same key, and a CRLF (Windows,
//     autocrlf) checkout keys like an LF one. The Dockerfile's path or file name is not part of the key.
//  3. ("target", "", T) only when Target is not empty; T as given.
//  4. ("platform", "", P) always; P as given (may be empty).
//  4b. ("base-image", R + " " + P, D) for each BaseImages pair, sorted by name (ordinal): R is a base image of the
//     Dockerfile normalised like docker ("node:20" -> "docker.io/library/node:20"), P the platform it is resolved
//     for, D its manifest digest for P ("sha256:..."), "image-id sha256:..." for a local-only image or "unresolved"
//     (EcrCacheBaseImageDigests=BestEffort). Absent when there are no external base images or digests are off, so
//     such keys are exactly the keys of this version without 4b (no version bump: the same inputs, the same key).
//  5. ("build-arg", N, sha256(N + "=" + V)) for each build argument N with value V, sorted by N (ordinal, so
//     case-sensitive), and ("build-arg", N, sha256(N)) (no "=") for an unset one (value null: docker gets
//     '--build-arg N' without a value and keeps the Dockerfile's ARG default), so unset and empty ("N=") differ. Values
//     are only hashed, never stored: the manifest holds build-arg names, not values. The same name twice with the same
//     value (or unset twice) counts once; with different values it is error ECRC1014.
//  6. ("additional-build-args", "", sha256(A)) only when AdditionalBuildArgs is not empty or white space; A is the text
//     with leading and trailing white space removed (inner white space counts).
//  7. One entry per CacheOn file, with R = PathNormalizer.Normalize(RelativePath): backslashes become '/', "." segments
//     and repeated slashes go, ".." and case are kept ("a\b.json", "./a//b.json" and "a/b.json" are all "a/b.json"):
//       - without JsonPath: ("file", R, sha256(the file's bytes)); the bytes are hashed as they are (CacheOn content is
//         NOT newline-normalised; only the Dockerfile is);
//       - with JsonPath J: ("json", R + "#" + C, sha256(the canonical JSON text of the selected value)). The file may
//         contain comments and trailing commas (they are not part of any value). Selection is jq's: a missing member, an
//         index out of range and any member or index of null select null (keyed as the text "null", like jq's output);
//         a member of another non-object or an index of a non-array is error ECRC1101 (jq's "Cannot index"), invalid
//         JSON ECRC1102, a path outside the subset ECRC1103.
//         J is a jq subset: "." (whole document), ".name" (name = one or more of A-Z a-z 0-9 _ $ -, so
//         ".dev-dependencies" works), "[\"any name\"]", ".[\"any name\"]" or ".\"any name\"" (a JSON string literal,
//         e.g. ".dependencies[\"@scope/pkg\"]"), "[n]" or ".[n]" (array index, negative counts from the end), chained:
//         ".a.b[2].c". (OptionsParser turns the reference plugin's "path#.jsonpath" CacheOn form into such an input.)
//         C is the canonical spelling of J (JsonPathSelector.Canonicalize): "." for the whole document, otherwise per
//         segment ".name" when the name matches the identifier rule, else "[" + canonical JSON string + "]", and "[n]"
//         for an index, with a '.' in front when the first segment is a bracket: ".a.b", ".[\"x.y\"].c", ".items[0]".
//         Canonical JSON text (CanonicalJson): no white space; object members sorted by name in ordinal (UTF-16 code
//         unit) order, members with the same name keeping document order; numbers exactly as written in the file (so 1,
//         1.0 and 1e0 all differ); strings and names decoded, then written with only these escapes: \" \\ \b \f \n \r
//         \t, \u00xx (lower-case hex) for other characters below U+0020, \udxxx for a lone surrogate, everything else
//         literally (so "\u00e9" and "é" are the same); true, false, null.
//     An Optional CacheOn file that does not exist gives ("file", R, "absent") (or ("json", R + "#" + C, "absent")), so
//     creating it later changes the key; a missing file that is not Optional is error ECRC1105.
//     These entries are sorted by Name, then Kind (ordinal). An entry that occurs more than once (the same file listed
//     twice, or the same path spelt two ways) is kept once. Two different files with the same R and different content
//     are error ECRC1108. The order of the CacheOn items does not matter.
//  8. ("extra", name, value) for each ExtraInputs pair, sorted by name (ordinal); value stored as given (so it must not
//     be a secret). A name given twice with the same value counts once (different values: ArgumentException).
//
// The key text is one line per entry, in manifest order:
//
//     escape(Kind) TAB escape(Name) TAB escape(Hash) LF
//
// where escape() replaces '\' with the two characters "\\", TAB with "\t", LF with "\n" and CR with "\r", so no
// field can fake a separator. The key Hash is sha256(key text): 64 lower-case hex digits. The image Tag is its first 24
// hex digits (96 bits).
//
// Example (the known-answer test): Dockerfile text "FROM busybox\r\n" (CRLF, keyed as "FROM busybox\n"), no target,
// platform "linux/amd64", build args VERSION=1.2.3 and A=x, no additional args, CacheOn "src\app.txt" holding "hello\n",
// extra input "base" = "sha256:0000". The key text is (-> marks a TAB):
//
//     algorithm->ecrcache->2
//     dockerfile->Dockerfile->bd6eb7cda7ad09a623e33e656ea3d9cc9f9d6fca40fb80b26c15b4638d2025b3   (sha256("FROM busybox\n"))
//     platform->->linux/amd64
//     build-arg->A->f455728aa0723f05294b272674975462c8972ff638fa9a5d2743b3d2ec3606b8          (sha256("A=x"))
//     build-arg->VERSION->97f6d902760fdc2e4a7d444b87a5228cc8cb88be5ff3c79a445f6834c6a3af88    (sha256("VERSION=1.2.3"))
//     file->src/app.txt->5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03    (sha256("hello\n"))
//     extra->base->sha256:0000
//
// (the parenthesised notes are not part of the text), so the key Hash is
// 408bbf2a527ea7470b5b98e9fb06402949a465bd493735fb1c2a693ef6dca56f and the Tag 408bbf2a527ea7470b5b98e9.
//
// Changing anything above (including CanonicalJson's output, the JsonPath canonical spelling or PathNormalizer) changes
// keys: bump KeyManifest.AlgorithmVersion when doing so. Unset build args (sha256(N)), null selections and "absent"
// entries came in version 1 without a bump: they key only inputs that were built wrongly (an unset arg passed as ""),
// errors or dropped before, so no other key changed. The manifest (KeyManifest.ToJson) is kept beside cached images
// to explain cache misses (KeyManifest.Diff).

using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Security;
using System.Text.Json;

namespace EcrCache.Keys
{
    /// <summary>Computes the cache key of an image build. The key format is specified at the top of this file.</summary>
    internal static class CacheKeyCalculator
    {
        /// <summary>Hex digits of the key used as the image tag.</summary>
        public const int TagLength = 24;

        /// <summary>The hash of an Optional CacheOn file that does not exist (never a hex digest).</summary>
        public const string AbsentHash = "absent";

        private static readonly JsonDocumentOptions JsonOptions = new JsonDocumentOptions
        {
            AllowTrailingCommas = true,
            CommentHandling = JsonCommentHandling.Skip,
            MaxDepth = 256,
        };

        /// <summary>
        /// Computes the key. CacheOn files are hashed in parallel (streamed, with at most <paramref name="maxParallelism"/>
        /// threads; 0 means <see cref="Environment.ProcessorCount"/>); the result does not depend on scheduling.
        /// </summary>
        /// <exception cref="EcrCacheException">
        /// DockerfileMissing, DockerfileAndInline, DockerfileReadFailed, BadBuildArgName, DuplicateBuildArg, BadJsonPath,
        /// CacheOnFileMissing, CacheOnReadFailed, JsonInvalid, JsonPathTypeMismatch, CacheOnPathCollision. When several CacheOn
        /// files fail, the error is about the first in key order.
        /// </exception>
        /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
        public static CacheKey Compute(KeyInputs inputs, CancellationToken cancellationToken = default, int maxParallelism = 0)
        {
            if (inputs == null)
            {
                throw new ArgumentNullException(nameof(inputs));
            }

            if (maxParallelism < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(maxParallelism), maxParallelism, "Use 0 for the processor count, or a positive number.");
            }

            cancellationToken.ThrowIfCancellationRequested();

            var hasDockerfile = !string.IsNullOrEmpty(inputs.DockerfilePath);
            var hasInline = !string.IsNullOrEmpty(inputs.DockerfileInline);
            if (hasDockerfile && hasInline)
            {
                throw new EcrCacheException(DiagnosticIds.DockerfileAndInline, inputs.DockerfilePath);
            }

            if (!hasDockerfile && !hasInline)
            {
                throw new ArgumentException("Set KeyInputs.DockerfilePath or KeyInputs.DockerfileInline.", nameof(inputs));
            }

            // Everything that can be checked without I/O first, so such errors do not depend on the file system.
            var buildArgs = SortBuildArgs(inputs.BuildArgs);
            var extras = SortExtras(inputs.ExtraInputs);
            var targets = PlanCacheOn(inputs.CacheOn);

            var entries = new List<KeyManifestEntry>(8 + buildArgs.Count + targets.Count + extras.Count)
            {
                new KeyManifestEntry(KeyEntryKinds.Algorithm, "ecrcache", KeyManifest.AlgorithmVersion.ToString(CultureInfo.InvariantCulture)),
            };

            using (var worker = new HashWorker())
            {
                var dockerfileHash = hasDockerfile
                    ? HashDockerfile(worker, inputs.DockerfilePath!, cancellationToken)
                    : worker.HashUtf8NormalizingNewlines(inputs.DockerfileInline!);
                entries.Add(new KeyManifestEntry(KeyEntryKinds.Dockerfile, "Dockerfile", dockerfileHash));

                if (!string.IsNullOrEmpty(inputs.Target))
                {
                    entries.Add(new KeyManifestEntry(KeyEntryKinds.Target, "", inputs.Target!));
                }

                entries.Add(new KeyManifestEntry(KeyEntryKinds.Platform, "", inputs.Platform ?? ""));
                foreach (var image in SortExtras(inputs.BaseImages))
                {
                    entries.Add(new KeyManifestEntry(KeyEntryKinds.BaseImage, image.Key, image.Value));
                }

                foreach (var arg in buildArgs)
                {
                    entries.Add(new KeyManifestEntry(KeyEntryKinds.BuildArg, arg.Key, worker.HashUtf8(BuildArgText(arg.Key, arg.Value))));
                }

                if (!string.IsNullOrWhiteSpace(inputs.AdditionalBuildArgs))
                {
                    entries.Add(new KeyManifestEntry(KeyEntryKinds.AdditionalBuildArgs, "", worker.HashUtf8(inputs.AdditionalBuildArgs!.Trim())));
                }

                HashCacheOn(targets, worker, cancellationToken, maxParallelism == 0 ? Environment.ProcessorCount : maxParallelism);
            }

            AddCacheOnEntries(entries, targets);
            foreach (var extra in extras)
            {
                entries.Add(new KeyManifestEntry(KeyEntryKinds.Extra, extra.Key, extra.Value));
            }

            cancellationToken.ThrowIfCancellationRequested();
            return new CacheKey(new KeyManifest(KeyManifest.AlgorithmVersion, entries));
        }

        private static string HashDockerfile(HashWorker worker, string path, CancellationToken cancellationToken)
        {
            try
            {
                return worker.HashFileNormalizingNewlines(path, cancellationToken);
            }
            catch (Exception ex) when (ex is FileNotFoundException || ex is DirectoryNotFoundException)
            {
                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.DockerfileMissing, path), ex);
            }
            catch (Exception ex) when (IsReadError(ex))
            {
                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.DockerfileReadFailed, path, ex.Message), ex);
            }
        }

        /// <summary>The text whose SHA-256 keys a build argument: "N=V", or "N" alone when it is unset (null).</summary>
        internal static string BuildArgText(string name, string? value) => value == null ? name : name + "=" + value;

        private static List<KeyValuePair<string, string?>> SortBuildArgs(IList<KeyValuePair<string, string?>> buildArgs)
        {
            var byName = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var arg in buildArgs)
            {
                if (arg.Key == null)
                {
                    throw new ArgumentException("A build argument has no name.", nameof(buildArgs));
                }

                if (arg.Key.Length == 0)
                {
                    throw new EcrCacheException(DiagnosticIds.BadBuildArgName, arg.Key);
                }

                if (byName.TryGetValue(arg.Key, out var existing))
                {
                    if (!string.Equals(existing, arg.Value, StringComparison.Ordinal))
                    {
                        throw new EcrCacheException(DiagnosticIds.DuplicateBuildArg, arg.Key);
                    }
                }
                else
                {
                    byName.Add(arg.Key, arg.Value);
                }
            }

            var list = new List<KeyValuePair<string, string?>>(byName);
            list.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
            return list;
        }

        private static List<KeyValuePair<string, string>> SortExtras(IList<KeyValuePair<string, string>> extras)
        {
            var byName = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var extra in extras)
            {
                if (extra.Key == null)
                {
                    throw new ArgumentException("An extra key input has no name.", nameof(extras));
                }

                var value = extra.Value ?? "";
                if (byName.TryGetValue(extra.Key, out var existing))
                {
                    if (!string.Equals(existing, value, StringComparison.Ordinal))
                    {
                        throw new ArgumentException("The extra key input '" + extra.Key + "' is given twice with different values.", nameof(extras));
                    }
                }
                else
                {
                    byName.Add(extra.Key, value);
                }
            }

            return SortedByKey(byName);
        }

        private static List<KeyValuePair<string, string>> SortedByKey(Dictionary<string, string> byName)
        {
            var list = new List<KeyValuePair<string, string>>(byName);
            list.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
            return list;
        }

        /// <summary>One distinct (Kind, Name, FullPath) to hash; sorted by Name, Kind, FullPath.</summary>
        private sealed record Target(string Kind, string Name, CacheOnInput Input, IReadOnlyList<JsonPathSegment>? Segments)
        {
            public string? Hash { get; set; }
        }

        /// <summary>The targets of one file, read by one worker (a JSON file is parsed once for all its paths).</summary>
        private sealed class Unit
        {
            public Unit(string fullPath) => FullPath = fullPath;

            public string FullPath { get; }

            public List<Target> Targets { get; } = new List<Target>(1);
        }

        private static List<Target> PlanCacheOn(IList<CacheOnInput> cacheOn)
        {
            var distinct = new Dictionary<(string Kind, string Name, string FullPath), Target>(cacheOn.Count); // presized: no rehash garbage per file
            var list = new List<Target>(cacheOn.Count);
            foreach (var input in cacheOn)
            {
                if (input == null)
                {
                    throw new ArgumentException("A CacheOn input is null.", nameof(cacheOn));
                }

                var name = PathNormalizer.Normalize(input.RelativePath);
                if (name.Length == 0)
                {
                    throw new ArgumentException("The CacheOn file '" + input.FullPath + "' has an empty relative path.", nameof(cacheOn));
                }

                var kind = KeyEntryKinds.File;
                IReadOnlyList<JsonPathSegment>? segments = null;
                if (!string.IsNullOrWhiteSpace(input.JsonPath))
                {
                    kind = KeyEntryKinds.Json;
                    segments = JsonPathSelector.ParseSegments(input.JsonPath!, input.RelativePath);
                    name = name + "#" + JsonPathSelector.ToCanonicalString(segments);
                }

                var id = (kind, name, input.FullPath);
                if (!distinct.ContainsKey(id))
                {
                    var target = new Target(kind, name, input, segments);
                    distinct.Add(id, target);
                    list.Add(target);
                }
            }

            list.Sort((a, b) =>
            {
                var c = string.CompareOrdinal(a.Name, b.Name);
                if (c == 0)
                {
                    c = string.CompareOrdinal(a.Kind, b.Kind);
                }

                return c != 0 ? c : string.CompareOrdinal(a.Input.FullPath, b.Input.FullPath);
            });
            return list;
        }

        private static void HashCacheOn(List<Target> targets, HashWorker callerWorker, CancellationToken cancellationToken, int parallelism)
        {
            if (targets.Count == 0)
            {
                return;
            }

            // Group by file, in key order of each file's first target (so the error reported is deterministic).
            var byPath = new Dictionary<string, Unit>(targets.Count, StringComparer.Ordinal);
            var units = new List<Unit>(targets.Count);
            foreach (var target in targets)
            {
                if (!byPath.TryGetValue(target.Input.FullPath, out var unit))
                {
                    unit = new Unit(target.Input.FullPath);
                    byPath.Add(unit.FullPath, unit);
                    units.Add(unit);
                }

                unit.Targets.Add(target);
            }

            // Workers claim units in index order. After a failure no new unit is claimed, but every unit with a lower
            // index was already claimed and is finished, so the lowest failing index is the same on every run.
            var errors = new Exception?[units.Count];
            var next = -1;
            var failed = 0;

            void Work(HashWorker worker)
            {
                while (Volatile.Read(ref failed) == 0 && !cancellationToken.IsCancellationRequested)
                {
                    var i = Interlocked.Increment(ref next);
                    if (i >= units.Count)
                    {
                        return;
                    }

                    try
                    {
                        ProcessUnit(units[i], worker, cancellationToken);
                    }
                    catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                    {
                        return;
                    }
                    catch (Exception ex)
                    {
                        errors[i] = ex;
                        Volatile.Write(ref failed, 1);
                        return;
                    }
                }
            }

            var workerCount = Math.Min(parallelism, units.Count);
            var tasks = new Task[Math.Max(0, workerCount - 1)];
            for (var t = 0; t < tasks.Length; t++)
            {
                tasks[t] = Task.Factory.StartNew(
                    () =>
                    {
                        using var worker = new HashWorker();
                        Work(worker);
                    },
                    CancellationToken.None,
                    TaskCreationOptions.LongRunning,
                    TaskScheduler.Default);
            }

            Work(callerWorker);
            Task.WaitAll(tasks);

            cancellationToken.ThrowIfCancellationRequested();
            foreach (var error in errors)
            {
                if (error != null)
                {
                    ExceptionDispatchInfo.Capture(error).Throw();
                }
            }
        }

        private static void ProcessUnit(Unit unit, HashWorker worker, CancellationToken cancellationToken)
        {
            JsonDocument? document = null;
            try
            {
                foreach (var target in unit.Targets)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var input = target.Input;
                    if (target.Segments == null)
                    {
                        target.Hash = Guard(input, () => worker.HashFile(unit.FullPath, cancellationToken), out var hash) ? hash : AbsentHash;
                        continue;
                    }

                    if (document == null)
                    {
                        if (!Guard(input, () => ParseJson(unit.FullPath), out var parsed))
                        {
                            target.Hash = AbsentHash;
                            continue;
                        }

                        document = parsed;
                    }

                    if (!JsonPathSelector.TrySelect(document.RootElement, target.Segments, out var value, out var typeError))
                    {
                        throw new EcrCacheException(DiagnosticIds.JsonPathTypeMismatch, input.JsonPath, input.RelativePath, typeError);
                    }

                    string canonical;
                    try
                    {
                        // Nothing selected is null, as jq prints it: the key notices when the value appears.
                        canonical = value == null ? "null" : CanonicalJson.Canonicalize(value.Value);
                    }
                    catch (InvalidOperationException ex)
                    {
                        throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.JsonInvalid, input.RelativePath, ex.Message, input.JsonPath), ex);
                    }

                    target.Hash = worker.HashUtf8(canonical);
                }
            }
            finally
            {
                document?.Dispose();
            }
        }

        private static JsonDocument ParseJson(string path)
        {
            using var stream = HashWorker.OpenRead(path);
            return JsonDocument.Parse(stream, JsonOptions);
        }

        /// <summary>Reads with coded errors; false (no error) only when the file is missing and the input Optional.</summary>
        private static bool Guard<T>(CacheOnInput input, Func<T> read, out T result)
        {
            try
            {
                result = read();
                return true;
            }
            catch (Exception ex) when (ex is FileNotFoundException || ex is DirectoryNotFoundException)
            {
                if (input.Optional)
                {
                    result = default!;
                    return false;
                }

                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.CacheOnFileMissing, input.RelativePath, "the project file"), ex);
            }
            catch (JsonException ex)
            {
                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.JsonInvalid, input.RelativePath, ex.Message, input.JsonPath), ex);
            }
            catch (Exception ex) when (IsReadError(ex))
            {
                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.CacheOnReadFailed, input.RelativePath, ex.Message), ex);
            }
        }

        private static bool IsReadError(Exception ex) =>
            ex is IOException || ex is UnauthorizedAccessException || ex is NotSupportedException
            || ex is SecurityException || ex is ArgumentException;

        private static void AddCacheOnEntries(List<KeyManifestEntry> entries, List<Target> targets)
        {
            for (var i = 0; i < targets.Count; i++)
            {
                var target = targets[i];
                if (i > 0 && targets[i - 1].Name == target.Name && targets[i - 1].Kind == target.Kind)
                {
                    // Same entry from another file (FullPath differs): fine if the content is the same.
                    var previous = targets[i - 1];
                    if (!string.Equals(previous.Hash, target.Hash, StringComparison.Ordinal))
                    {
                        throw new EcrCacheException(DiagnosticIds.CacheOnPathCollision, previous.Input.FullPath, target.Input.FullPath, target.Name);
                    }

                    continue;
                }

                entries.Add(new KeyManifestEntry(target.Kind, target.Name, target.Hash!));
            }
        }
    }
}
