using System.Text;
using System.Text.RegularExpressions;
using EcrCache.Diagnostics;
using EcrCache.Keys;
using EcrCache.Logging;

namespace EcrCache.Core
{
    /// <summary>Turns what the project wrote into validated <see cref="CacheOptions"/>, with coded errors.</summary>
    internal static class OptionsParser
    {
        public static readonly IReadOnlyList<string> Providers = new[] { "local", "registry", "ecr", "gar", "gcr", "s3", "directory" };

        private static readonly Regex EnvName = new Regex("^[A-Za-z_][A-Za-z0-9_]*\\z", RegexOptions.CultureInvariant);
        private static readonly Regex SecretId = new Regex("^[A-Za-z0-9_.-]+\\z", RegexOptions.CultureInvariant);

        // The distribution spec's repository name grammar.
        private static readonly Regex RepositoryName = new Regex(
            "^[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*)*\\z",
            RegexOptions.CultureInvariant);

        private static readonly Regex RegistryHost = new Regex(
            "^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\\[[0-9A-Fa-f:]+\\])(?::[0-9]{1,5})?$",
            RegexOptions.CultureInvariant);

        private static readonly string[] ForbiddenAdditional = { "-t", "--tag", "-f", "--file", "--target" };

        public static CacheOptions Parse(RawOptions raw, IBuildLog log)
        {
            // A Compose service's build: section fills Dockerfile, context, target and build args (Compose/).
            var compose = EcrCache.Compose.ComposeOptions.Apply(raw, log);
            var projectDir = raw.ProjectDirectory;
            var options = new CacheOptions
            {
                ProjectDirectory = projectDir,
                ProjectName = raw.ProjectName,
                IntermediateDirectory = Resolve(projectDir, string.IsNullOrWhiteSpace(raw.IntermediateDirectory) ? Path.Combine("obj", "ecrcache") : raw.IntermediateDirectory),
                Environment = raw.Environment,
                Target = Blank(raw.Target),
                MetadataKey = Blank(raw.MetadataKey),
                DockerPath = Blank(raw.DockerPath) ?? "docker",
                BuildkiteAgentPath = Blank(raw.BuildkiteAgentPath) ?? "buildkite-agent",
                SkipPull = ParseBool("EcrCacheSkipPull", raw.SkipPull, false),
                PushLatest = ParseBool("EcrCachePushLatest", raw.PushLatest, true),
                RegistryInsecure = ParseBool("EcrCacheRegistryInsecure", raw.RegistryInsecure, false),
            };

            // Dockerfile and context.
            var inline = string.IsNullOrWhiteSpace(raw.DockerfileInline) ? null : raw.DockerfileInline;
            var dockerfile = Blank(raw.Dockerfile);
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
                var path = Resolve(projectDir, dockerfile ?? "Dockerfile");
                if (!File.Exists(path))
                {
                    throw new EcrCacheException(DiagnosticIds.DockerfileMissing, path);
                }

                options.DockerfilePath = path;
            }

            var context = Blank(raw.Context);
            options.ContextDirectory = context != null
                ? Resolve(projectDir, context)
                : options.DockerfilePath != null ? Path.GetDirectoryName(options.DockerfilePath)! : projectDir;
            options.ContextDirectory = TrimSeparator(options.ContextDirectory);
            if (!Directory.Exists(options.ContextDirectory))
            {
                throw new EcrCacheException(DiagnosticIds.ContextMissing, options.ContextDirectory);
            }

            // Provider, registry and repository.
            var provider = (Blank(raw.Provider) ?? "local").Trim().ToLowerInvariant();
            switch (provider)
            {
                case "local":
                    options.Provider = ProviderKind.Local;
                    break;
                case "registry":
                    options.Provider = ProviderKind.Registry;
                    break;
                case "ecr":
                    options.Provider = ProviderKind.Ecr;
                    break;
                case "gar":
                    options.Provider = ProviderKind.Gar;
                    break;
                case "gcr":
                    options.Provider = ProviderKind.Gcr;
                    break;
                case "s3":
                    options.Provider = ProviderKind.S3;
                    break;
                case "directory":
                    options.Provider = ProviderKind.Directory;
                    break;
                default:
                    throw new EcrCacheException(DiagnosticIds.UnknownProvider, raw.Provider, string.Join(", ", Providers));
            }

            var registry = Blank(raw.Registry);
            if (registry != null)
            {
                registry = registry.Trim().TrimEnd('/');
                if (!RegistryHost.IsMatch(registry))
                {
                    throw new EcrCacheException(DiagnosticIds.BadRegistryHost, registry);
                }

                options.Registry = registry;
            }

            if (options.Provider == ProviderKind.Registry && options.Registry == null)
            {
                throw new EcrCacheException(DiagnosticIds.RegistryRequired);
            }

            var repository = Blank(raw.Repository) ?? DefaultRepository(raw.ProjectName, raw.Environment);
            if (!RepositoryName.IsMatch(repository) || repository.Length > 255)
            {
                throw new EcrCacheException(DiagnosticIds.BadRepositoryName, repository);
            }

            options.Repository = repository;
            if (options.Provider == ProviderKind.Ecr)
            {
                EcrCache.Stores.Ecr.EcrOptionsParser.Apply(raw, options);
            }
            else if (options.Provider == ProviderKind.Gar || options.Provider == ProviderKind.Gcr)
            {
                options.Gar = EcrCache.Stores.Gar.GarOptionsParser.Parse(raw, options, gcrNaming: options.Provider == ProviderKind.Gcr);
            }
            else if (options.Provider == ProviderKind.S3 || options.Provider == ProviderKind.Directory)
            {
                EcrCache.Stores.Tarballs.TarballOptionsParser.Apply(raw, options);
            }

            // Exports.
            options.ExportEnvVariable = Blank(raw.ExportEnvVariable) ?? "BUILDKITE_PLUGIN_DOCKER_IMAGE";
            if (!EnvName.IsMatch(options.ExportEnvVariable))
            {
                throw new EcrCacheException(DiagnosticIds.BadExportVariable, options.ExportEnvVariable);
            }

            EcrCache.Exports.ExportOptionsParser.Apply(raw, options);

            options.EnvFile = Resolve(projectDir, Blank(raw.EnvFile) ?? Path.Combine(options.IntermediateDirectory, "image.env"));

            // Build args. A name without Value whose variable is unset stays unset (null): docker then gets
            // '--build-arg NAME' with NAME not in its environment and keeps the Dockerfile's ARG default, as the
            // reference plugin did. An empty string would override that default.
            var seen = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var item in raw.BuildArgs)
            {
                var name = item.ItemSpec.Trim();
                if (!EnvName.IsMatch(name))
                {
                    throw new EcrCacheException(DiagnosticIds.BadBuildArgName, name);
                }

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

            EcrCache.Reliability.ReliabilityOptionsParser.Apply(raw, options, log);

            // Additional docker build arguments (enter the key as written).
            var additional = Blank(raw.AdditionalBuildArgs);
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

            // Platform, base-image digests, layer cache (Keys/KeyFeatureOptions.cs).
            KeyFeatureOptionsParser.Apply(raw, options);
            options.ComposeFile = compose?.ComposeFile;
            options.ComposeService = compose?.Service;
            ProviderOptions.Apply(raw, options, log); // options the provider ignores: validated, then warned about
            return options;
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
                return string.IsNullOrEmpty(full) ? Resolve(projectDir, item.ItemSpec) : full!;
            }).ToList();
            var stats = FileStat.OfMany(fullPaths); // once per file: the input stamp reuses them
            var projectFile = raw.ProjectFile ?? "the project file";
            for (var i = 0; i < fullPaths.Count; i++)
            {
                var item = raw.CacheOn[i];
                var full = fullPaths[i];
                var stat = stats[i];
                var optionalText = item.Get("Optional");
                var optional = optionalText != null && ParseBool("Optional (metadata of CacheOn '" + item.ItemSpec + "')", optionalText, false);
                var jsonPath = Blank(item.Get("JsonPath"));
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
                        full = Resolve(projectDir, path);
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

        public static string DefaultRepository(string projectName, Func<string, string?> environment)
        {
            var org = environment("BUILDKITE_ORGANIZATION_SLUG");
            var pipeline = environment("BUILDKITE_PIPELINE_SLUG");
            if (!string.IsNullOrEmpty(org) && !string.IsNullOrEmpty(pipeline))
            {
                return "build-cache/" + org + "/" + pipeline;
            }

            return "build-cache/" + projectName.ToLowerInvariant();
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

            var source = Blank(item.Get("Source"));
            var envName = Blank(item.Get("Env")) ?? Blank(item.Get("EnvironmentVariable"));
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
                var path = Resolve(projectDir, src);
                if (!File.Exists(path))
                {
                    throw new EcrCacheException(DiagnosticIds.SecretFileMissing, id, path);
                }

                return new SecretSpec(id, "id=" + id + ",src=" + path, null, path);
            }

            if (!EnvName.IsMatch(env!))
            {
                throw new EcrCacheException(DiagnosticIds.BadSecretSpec, id);
            }

            if (string.IsNullOrEmpty(environment(env!)))
            {
                throw new EcrCacheException(DiagnosticIds.SecretEnvUnset, id, env);
            }

            return new SecretSpec(id, "id=" + id + ",env=" + env, env, null);
        }

        /// <summary>
        /// A duration option: whole minutes ("30") or a TimeSpan with a colon ("00:00:30"). Anything else is
        /// <paramref name="diagnosticId"/>; the caller checks the range.
        /// </summary>
        internal static TimeSpan ParseMinutesOrTimeSpan(string value, string diagnosticId)
        {
            var text = value.Trim();
            if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var minutes))
            {
                return TimeSpan.FromMinutes(minutes);
            }

            if (text.IndexOf(':') >= 0 && TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var timeout))
            {
                return timeout;
            }

            throw new EcrCacheException(diagnosticId, value);
        }

        public static bool ParseBool(string property, string? value, bool defaultValue)
        {
            var text = Blank(value);
            if (text == null)
            {
                return defaultValue;
            }

            switch (text.Trim().ToLowerInvariant())
            {
                case "true":
                case "1":
                case "yes":
                case "on":
                    return true;
                case "false":
                case "0":
                case "no":
                case "off":
                    return false;
                default:
                    throw new EcrCacheException(DiagnosticIds.BadBoolean, property, value);
            }
        }

        /// <summary>Splits a command line like a POSIX shell does for words and quotes (no expansion).</summary>
        public static IReadOnlyList<string> SplitCommandLine(string text)
        {
            var words = new List<string>();
            var current = new StringBuilder();
            var inWord = false;
            char quote = '\0';
            for (var i = 0; i < text.Length; i++)
            {
                var c = text[i];
                if (quote == '\'')
                {
                    if (c == '\'')
                    {
                        quote = '\0';
                    }
                    else
                    {
                        current.Append(c);
                    }

                    continue;
                }

                if (quote == '"')
                {
                    if (c == '"')
                    {
                        quote = '\0';
                    }
                    else if (c == '\\' && i + 1 < text.Length && (text[i + 1] == '"' || text[i + 1] == '\\' || text[i + 1] == '$'))
                    {
                        current.Append(text[++i]);
                    }
                    else
                    {
                        current.Append(c);
                    }

                    continue;
                }

                if (char.IsWhiteSpace(c))
                {
                    if (inWord)
                    {
                        words.Add(current.ToString());
                        current.Clear();
                        inWord = false;
                    }

                    continue;
                }

                inWord = true;
                if (c == '\'' || c == '"')
                {
                    quote = c;
                }
                else if (c == '\\' && i + 1 < text.Length)
                {
                    current.Append(text[++i]);
                }
                else
                {
                    current.Append(c);
                }
            }

            if (quote != '\0')
            {
                throw new EcrCacheException(DiagnosticIds.BadAdditionalArgs, "an unterminated " + quote + " quote");
            }

            if (inWord)
            {
                words.Add(current.ToString());
            }

            return words;
        }

        public static string RelativePath(string baseDirectory, string fullPath)
        {
            var baseFull = TrimSeparator(Path.GetFullPath(baseDirectory)) + Path.DirectorySeparatorChar;
            var target = Path.GetFullPath(fullPath);
            var comparison = Path.DirectorySeparatorChar == '\\' ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
            if (target.StartsWith(baseFull, comparison))
            {
                return PathNormalizer.Normalize(target.Substring(baseFull.Length));
            }

            var baseUri = new Uri(baseFull);
            var relative = Uri.UnescapeDataString(baseUri.MakeRelativeUri(new Uri(target)).ToString());
            return PathNormalizer.Normalize(relative);
        }

        internal static string Resolve(string baseDirectory, string path) =>
            Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(baseDirectory, path));

        private static string TrimSeparator(string path) =>
            path.Length > 1 ? path.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar) : path;

        private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
    }
}
