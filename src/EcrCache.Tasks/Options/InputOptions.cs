using System.Text.RegularExpressions;
using EcrCache.Core;
using EcrCache.Keys;

namespace EcrCache.Options
{
    /// <summary>
    /// The inputs of the key, which also define the build: Dockerfile (or Compose service), context, target, build
    /// arguments, secrets, extra docker build arguments, CacheOn files, platform and base-image settings. Parsed by
    /// ComputeCachedImageKey; the later steps reuse what it parsed.
    /// </summary>
    internal static class InputOptions
    {
        /// <summary>Name fragments that mark a build arg as probably secret (matched case-insensitively).</summary>
        public static readonly string[] SecretLookingFragments = { "TOKEN", "PASSWORD", "PASSWD", "SECRET", "KEY" };

        public const string AllowSecretLookingNameMetadata = "AllowSecretLookingName";

        private static readonly Regex SecretId = new Regex("^[A-Za-z0-9_.-]+\\z", RegexOptions.CultureInvariant);

        private static readonly Regex FromLine = new Regex(@"^\s*FROM\s+\S", RegexOptions.Multiline | RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

        private static readonly string[] ForbiddenAdditional = { "-t", "--tag", "-f", "--file", "--target" };

        public static void Apply(RawOptions raw, CacheOptions options, IBuildLog log)
        {
            // A Compose service's build: section fills Dockerfile, context, target and build args (Compose/).
            var compose = Compose.ComposeOptions.Apply(raw, log);
            var projectDir = raw.ProjectDirectory;
            options.Target = Validate.Blank(raw["Target"]);

            // Dockerfile and context.
            var inline = Validate.Blank(raw["DockerfileInline"]);
            var dockerfile = Validate.Blank(raw["Dockerfile"]);
            if (inline != null && dockerfile != null)
            {
                throw new EcrCacheException(DiagnosticIds.DockerfileAndInline, dockerfile);
            }

            if (inline != null)
            {
                options.DockerfileInline = inline;
            }
            else
            {
                var path = Validate.FullPath(projectDir, dockerfile ?? "Dockerfile");
                if (!File.Exists(path))
                {
                    throw new EcrCacheException(DiagnosticIds.DockerfileMissing, path);
                }

                options.DockerfilePath = path;
            }

            var context = Validate.Blank(raw["Context"]);
            options.ContextDirectory = context != null
                ? Validate.FullPath(projectDir, context)
                : options.DockerfilePath != null ? Path.GetDirectoryName(options.DockerfilePath)! : projectDir;
            options.ContextDirectory = TrimSeparator(options.ContextDirectory);
            if (!Directory.Exists(options.ContextDirectory))
            {
                throw new EcrCacheException(DiagnosticIds.ContextMissing, options.ContextDirectory);
            }

            ParseBuildArgs(raw, options, log);
            CheckDockerfileHasFrom(options);

            // Additional docker build arguments (enter the key as written).
            var additional = Validate.Blank(raw["AdditionalBuildArgs"]);
            if (additional != null)
            {
                options.AdditionalBuildArgs = additional.Trim();
                foreach (var word in SplitCommandLine(options.AdditionalBuildArgs))
                {
                    var flag = word.Split('=')[0];
                    if (ForbiddenAdditional.Contains(flag, StringComparer.Ordinal))
                    {
                        throw new EcrCacheException(DiagnosticIds.AdditionalArgsForbidden, word, "the tag comes from the cache key; use EcrCacheDockerfile, EcrCacheDockerfileInline or EcrCacheTarget");
                    }

                    options.AdditionalBuildArgList.Add(word);
                }
            }

            // Secrets.
            foreach (var item in raw.Secrets)
            {
                options.Secrets.Add(ParseSecret(item, projectDir, raw.Environment));
            }

            // Cache-on files; the project file's own CacheOn elements are read once, for the '#' globs and ECRC1104.
            var projectItems = raw.ProjectFile != null ? ProjectCacheOnItems.Read(raw.ProjectFile) : ProjectCacheOnItems.None;
            ParseCacheOn(raw, options, projectDir, log, projectItems);

            if (raw.ProjectFile != null)
            {
                foreach (var pattern in CacheOnPatterns.FindUnmatched(projectItems, projectDir, options.CacheOn))
                {
                    log.Warning(Diagnostic.Create(DiagnosticIds.CacheOnNoMatch, pattern));
                }
            }

            if (options.CacheOn.Count == 0)
            {
                log.Warning(Diagnostic.Create(DiagnosticIds.CacheOnEmpty));
            }

            // Platform, base-image digests and mirrors (KeyFeatureOptions.cs).
            KeyFeatureOptions.Apply(raw, options);
            options.ComposeFile = compose?.ComposeFile;
            options.ComposeService = compose?.Service;
        }

        /// <summary>
        /// Build args. A name without Value whose variable is unset stays unset (null): docker then gets
        /// '--build-arg NAME' with NAME not in its environment and keeps the Dockerfile's ARG default, as the reference
        /// plugin did. An empty string would override that default. A name that looks like a secret is warned about.
        /// </summary>
        private static void ParseBuildArgs(RawOptions raw, CacheOptions options, IBuildLog log)
        {
            var seen = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var item in raw.BuildArgs)
            {
                var name = Validate.Grammar(item.ItemSpec.Trim(), Validate.EnvironmentName, DiagnosticIds.BadBuildArgName);

                string? value;
                if (item.Has("Value"))
                {
                    value = item.Get("Value") ?? "";
                }
                else
                {
                    value = raw.Environment(name);
                    if (value == null)
                    {
                        log.Warning(Diagnostic.Create(DiagnosticIds.BuildArgUnset, name));
                    }
                }

                if (seen.TryGetValue(name, out var previous))
                {
                    if (!string.Equals(previous, value, StringComparison.Ordinal))
                    {
                        throw new EcrCacheException(DiagnosticIds.DuplicateBuildArg, name);
                    }

                    continue;
                }

                seen.Add(name, value);
                options.BuildArgs.Add(new KeyValuePair<string, string?>(name, value));
            }

            foreach (var item in raw.BuildArgs)
            {
                var name = item.ItemSpec.Trim();
                var allowed = Validate.Bool("AllowSecretLookingName metadata of BuildArg '" + name + "'", item.Get(AllowSecretLookingNameMetadata), false);
                var fragment = SecretLookingFragment(name);
                if (fragment != null && !allowed)
                {
                    log.Warning(Diagnostic.Create(DiagnosticIds.SecretLookingBuildArg, name, fragment));
                }
            }
        }

        /// <summary>The fragment that makes <paramref name="name"/> look like a secret, or null.</summary>
        public static string? SecretLookingFragment(string name) =>
            SecretLookingFragments.FirstOrDefault(fragment => name.IndexOf(fragment, StringComparison.OrdinalIgnoreCase) >= 0);

        /// <summary>
        /// A Dockerfile without any FROM, an EcrCacheTarget that names no stage or a RUN --mount BuildKit cannot read can
        /// only fail in docker build: say so before anything runs (DockerfileChecks).
        /// </summary>
        internal static void CheckDockerfileHasFrom(CacheOptions options)
        {
            var text = options.DockerfileInline;
            if (text == null && options.DockerfilePath != null)
            {
                try
                {
                    text = File.ReadAllText(options.DockerfilePath);
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    return; // ECRC1109 reports it where the Dockerfile is hashed.
                }
            }

            if (text != null && !FromLine.IsMatch(text))
            {
                // At the Dockerfile's first line, where a FROM belongs; inline text at the project file.
                var diagnostic = Diagnostic.Create(DiagnosticIds.DockerfileNoFrom, options.DockerfilePath ?? "EcrCacheDockerfileInline");
                throw new EcrCacheException(options.DockerfileInline == null ? diagnostic.At(options.DockerfilePath, 1, 1) : diagnostic);
            }

            if (text != null)
            {
                Keys.Dockerfiles.DockerfileChecks.Check(text, options.DockerfileInline == null ? options.DockerfilePath : null, options.Target);
            }
        }

        /// <summary>
        /// CacheOn items: each file stat'ed once (the input stamp reuses the stats). A missing literal file is an error
        /// (a typo would weaken the key for good without anyone noticing) unless the item says Optional="true", which
        /// keys it as absent; a folder is an error. The plugin's "file#.jsonpath" form is JsonPath metadata
        /// (<see cref="CacheOnHashSpecs"/>), for literal items and for globs of the project file. Optimised at once:
        /// it loops over every CacheOn item (tens of thousands in a monorepo) in a process too short for tiered
        /// compilation to get there.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(JitHints.OptimizeNow)]
        private static void ParseCacheOn(RawOptions raw, CacheOptions options, string projectDir, IBuildLog log, ProjectCacheOnItems projectItems)
        {
            var relative = new RelativePathResolver(projectDir);
            var fullPaths = raw.CacheOn.Select(item =>
            {
                var full = item.Get("FullPath");
                return string.IsNullOrEmpty(full) ? Validate.FullPath(projectDir, item.ItemSpec) : full!;
            }).ToList();
            var stats = FileStat.OfMany(fullPaths); // once per file: the input stamp reuses them
            var projectFile = raw.ProjectFile ?? "the project file";
            for (var i = 0; i < fullPaths.Count; i++)
            {
                var item = raw.CacheOn[i];
                var full = fullPaths[i];
                var stat = stats[i];
                var optionalText = item.Get("Optional");
                var optional = optionalText != null && Validate.Bool("Optional (metadata of CacheOn '" + item.ItemSpec + "')", optionalText, false);
                var jsonPath = Validate.Blank(item.Get("JsonPath"));
                if (!stat.Exists && item.ItemSpec.IndexOf('#') >= 0)
                {
                    if (CacheOnGlob.HasWildcard(item.ItemSpec))
                    {
                        // MSBuild passed a '#' glob on unexpanded (it does when it cannot expand it at all).
                        if (CacheOnHashSpecs.IsDeclared(projectItems, item.ItemSpec))
                        {
                            continue; // expanded below, from the project file
                        }

                        CacheOnPatterns.TrySplitJsonPath(item.ItemSpec, out var globPath, out var globJson);
                        throw new EcrCacheException(DiagnosticIds.CacheOnHashGlobNotEvaluable, item.ItemSpec, projectFile, "", "it does not come from the project file itself", globPath, globJson);
                    }

                    if (CacheOnHashSpecs.TrySplitLiteral(item.ItemSpec, stat.Exists, out var path, out var json))
                    {
                        if (jsonPath != null)
                        {
                            throw new EcrCacheException(DiagnosticIds.CacheOnJsonPathTwice, item.ItemSpec, projectFile, jsonPath);
                        }

                        JsonPathSelector.Parse(json, item.ItemSpec); // ECRC1103 now, naming the item as written
                        jsonPath = json;
                        full = Validate.FullPath(projectDir, path);
                        stat = FileStat.Of(full);
                    }
                }

                if (!stat.Exists)
                {
                    if (Directory.Exists(full))
                    {
                        throw new EcrCacheException(DiagnosticIds.CacheOnFolder, item.ItemSpec, projectFile, item.ItemSpec.TrimEnd('/', '\\'));
                    }

                    if (!optional)
                    {
                        throw new EcrCacheException(DiagnosticIds.CacheOnFileMissing, item.ItemSpec, projectFile);
                    }

                    log.Detail("EcrCache: the CacheOn file '" + item.ItemSpec + "' does not exist; it is Optional, so it is keyed as absent (creating it changes the key).");
                }

                options.CacheOn.Add(new CacheOnInput(full, relative.Of(full), jsonPath, optional));
                options.CacheOnStats[full] = stat;
            }

            if (projectItems.HashGlobs.Count > 0)
            {
                CacheOnHashSpecs.ExpandGlobs(projectItems, projectFile, projectDir, raw.CacheOn, relative, options.CacheOn, options.CacheOnStats, log);
            }
        }

        internal static SecretSpec ParseSecret(RawItem item, string projectDir, Func<string, string?> environment)
        {
            var include = item.ItemSpec.Trim();
            if (include.IndexOf('=') >= 0)
            {
                // A full --secret spec such as id=npmrc,src=.npmrc or id=token,env=NPM_TOKEN.
                string? id = null, src = null, env = null, type = null;
                foreach (var part in include.Split(','))
                {
                    var eq = part.IndexOf('=');
                    if (eq <= 0)
                    {
                        throw new EcrCacheException(DiagnosticIds.BadSecretSpec, include);
                    }

                    var key = part.Substring(0, eq).Trim().ToLowerInvariant();
                    var value = part.Substring(eq + 1).Trim();
                    switch (key)
                    {
                        case "id":
                            id = value;
                            break;
                        case "src":
                        case "source":
                            src = value;
                            break;
                        case "env":
                            env = value;
                            break;
                        case "type":
                            type = value;
                            break;
                        default:
                            throw new EcrCacheException(DiagnosticIds.BadSecretSpec, include);
                    }
                }

                if (type != null && type != "file" && type != "env")
                {
                    throw new EcrCacheException(DiagnosticIds.BadSecretSpec, include);
                }

                if (type == "file" && src == null)
                {
                    throw new EcrCacheException(DiagnosticIds.BadSecretSpec, include);
                }

                if (type == "env" && env == null)
                {
                    env = src;
                    src = null;
                }

                id ??= env ?? (src != null ? Path.GetFileName(src) : null);
                if (id == null || !SecretId.IsMatch(id) || (src != null && env != null))
                {
                    throw new EcrCacheException(DiagnosticIds.BadSecretSpec, include);
                }

                if (src == null && env == null)
                {
                    env = id;
                }

                return BuildSecret(id, src, env, projectDir, environment);
            }

            if (!SecretId.IsMatch(include))
            {
                throw new EcrCacheException(DiagnosticIds.BadSecretSpec, include);
            }

            var source = Validate.Blank(item.Get("Source"));
            var envName = Validate.Blank(item.Get("Env")) ?? Validate.Blank(item.Get("EnvironmentVariable"));
            if (source != null && envName != null)
            {
                throw new EcrCacheException(DiagnosticIds.BadSecretSpec, include);
            }

            return BuildSecret(include, source, source == null ? envName ?? include : null, projectDir, environment);
        }

        private static SecretSpec BuildSecret(string id, string? src, string? env, string projectDir, Func<string, string?> environment)
        {
            if (src != null)
            {
                var path = Validate.FullPath(projectDir, src);
                if (!File.Exists(path))
                {
                    throw new EcrCacheException(DiagnosticIds.SecretFileMissing, id, path);
                }

                return new SecretSpec(id, "id=" + id + ",src=" + path, null, path);
            }

            if (!Validate.EnvironmentName.IsMatch(env!))
            {
                throw new EcrCacheException(DiagnosticIds.BadSecretSpec, id);
            }

            if (string.IsNullOrEmpty(environment(env!)))
            {
                throw new EcrCacheException(DiagnosticIds.SecretEnvUnset, id, env);
            }

            return new SecretSpec(id, "id=" + id + ",env=" + env, env, null);
        }

        /// <summary>Splits a command line like a POSIX shell does for words and quotes (no expansion).</summary>
        public static IReadOnlyList<string> SplitCommandLine(string text) =>
            ShellWords.Split(text, quote => new EcrCacheException(DiagnosticIds.BadAdditionalArgs, "an unterminated " + quote + " quote"));

        public static string RelativePath(string baseDirectory, string fullPath)
        {
            var baseFull = TrimSeparator(Path.GetFullPath(baseDirectory)) + Path.DirectorySeparatorChar;
            var target = Path.GetFullPath(fullPath);
            var comparison = Validate.PathComparison;
            if (target.StartsWith(baseFull, comparison))
            {
                return PathNormalizer.Normalize(target.Substring(baseFull.Length));
            }

            var baseUri = new Uri(baseFull);
            var relative = Uri.UnescapeDataString(baseUri.MakeRelativeUri(new Uri(target)).ToString());
            return PathNormalizer.Normalize(relative);
        }

        private static string TrimSeparator(string path) =>
            path.Length > 1 ? path.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar) : path;
    }
}
