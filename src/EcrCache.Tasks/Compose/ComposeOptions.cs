using EcrCache.Options;

namespace EcrCache.Compose
{
    /// <summary>
    /// EcrCacheComposeFile + EcrCacheComposeService: fills the Dockerfile, context, target, build args and platform
    /// (build.platforms, else the service's platform:) from the service's definition before the options are parsed. Precedence: an explicit EcrCacheDockerfile,
    /// EcrCacheDockerfileInline, EcrCacheContext or EcrCacheTarget that disagrees with the Compose file is an error
    /// (ECRC1026: one source of truth); a BuildArg item overrides the Compose arg of the same name, as
    /// <c>docker compose build --build-arg</c> does.
    /// </summary>
    internal static class ComposeOptions
    {
        public static ComposeBuild? Apply(RawOptions raw, IBuildLog log)
        {
            var file = Validate.Blank(raw["ComposeFile"]);
            var service = Validate.Blank(raw["ComposeService"]);
            if (file == null)
            {
                if (service != null)
                {
                    throw new EcrCacheException(DiagnosticIds.ComposeServiceRequired, "EcrCacheComposeService", "EcrCacheComposeFile");
                }

                return null;
            }

            if (service == null)
            {
                throw new EcrCacheException(DiagnosticIds.ComposeServiceRequired, "EcrCacheComposeFile", "EcrCacheComposeService");
            }

            var path = Full(raw.ProjectDirectory, file.Trim());
            var build = ComposeFileReader.Read(path, service.Trim(), raw.Environment);

            if (Validate.Blank(raw["Dockerfile"]) != null && (build.Dockerfile == null || !SamePath(Full(raw.ProjectDirectory, raw["Dockerfile"]!), build.Dockerfile)))
            {
                throw Conflict(build, "EcrCacheDockerfile", raw["Dockerfile"], build.Dockerfile ?? "dockerfile_inline", service, path, "dockerfile", "dockerfile_inline");
            }

            if (Validate.Blank(raw["DockerfileInline"]) != null && !string.Equals(raw["DockerfileInline"], build.DockerfileInline, StringComparison.Ordinal))
            {
                throw Conflict(build, "EcrCacheDockerfileInline", "(inline text)", build.DockerfileInline != null ? "(other inline text)" : build.Dockerfile, service, path, "dockerfile_inline", "dockerfile");
            }

            if (Validate.Blank(raw["Context"]) != null && !SamePath(Full(raw.ProjectDirectory, raw["Context"]!), build.Context))
            {
                throw Conflict(build, "EcrCacheContext", raw["Context"], build.Context, service, path, "context");
            }

            if (Validate.Blank(raw["Target"]) != null && build.Target != null && !string.Equals(raw["Target"]!.Trim(), build.Target, StringComparison.Ordinal))
            {
                throw Conflict(build, "EcrCacheTarget", raw["Target"], build.Target, service, path, "target");
            }

            if (build.Platform != null && Validate.Blank(raw["Platform"]) != null && !SamePlatforms(raw["Platform"]!, build.Platform))
            {
                throw Conflict(build, "EcrCachePlatform", raw["Platform"], build.Platform, service, path, "platforms", "platform");
            }

            raw["Platform"] = Validate.Blank(raw["Platform"]) ?? build.Platform;
            raw["Dockerfile"] = build.Dockerfile;
            raw["DockerfileInline"] = build.DockerfileInline;
            raw["Context"] = build.Context;
            raw["Target"] = Validate.Blank(raw["Target"]) ?? build.Target;

            var explicitArgs = new HashSet<string>(raw.BuildArgs.Select(i => i.ItemSpec.Trim()), StringComparer.Ordinal);
            var added = new List<string>();
            foreach (var arg in build.Args)
            {
                if (explicitArgs.Contains(arg.Key))
                {
                    log.Detail("BuildArg " + arg.Key + " overrides the Compose build arg of service " + service + ".");
                    continue;
                }

                if (arg.Value == null)
                {
                    log.Detail("Compose build arg " + arg.Key + " has no value and the variable is not set: omitted, as docker compose does.");
                    continue;
                }

                explicitArgs.Add(arg.Key);
                added.Add(arg.Key);
                raw.BuildArgs.Add(new RawItem(arg.Key, new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["Value"] = arg.Value }));
            }

            log.Info("EcrCache: building Compose service '" + service + "' of " + path + ": Dockerfile " + (build.Dockerfile ?? "(inline)") + ", context " + build.Context
                + (build.Target != null ? ", target " + build.Target : "") + (build.Platform != null ? ", platform " + build.Platform : "") + (added.Count > 0 ? ", build args " + string.Join(", ", added) : "") + ".");
            return build;
        }

        /// <summary>ECRC1026 at the Compose file's value that disagrees (at its build: key when the default decided).</summary>
        private static EcrCacheException Conflict(ComposeBuild build, string property, string? value, string? composeValue, string service, string path, params string[] keys) =>
            new EcrCacheException(build.Locate(Diagnostic.Create(DiagnosticIds.ComposeConflict, property, value, composeValue, service, path), keys));

        private static bool SamePlatforms(string a, string b)
        {
            string Normal(string list) => string.Join(",", list.Split(',').Select(p => EcrCache.Keys.BaseImages.BaseImageResolver.NormalizePlatform(p)).Where(p => p.Length > 0).Distinct().OrderBy(p => p, StringComparer.Ordinal));
            return Normal(a) == Normal(b);
        }

        private static string Full(string baseDirectory, string path) =>
            Validate.FullPath(baseDirectory, path).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);

        private static bool SamePath(string a, string b) =>
            string.Equals(a.TrimEnd('/', '\\'), b.TrimEnd('/', '\\'), Validate.PathComparison);
    }
}
