namespace EcrCache.Keys.Dockerfiles
{
    /// <summary>
    /// Mistakes in a Dockerfile that docker would only report after the key was computed and the build started:
    /// EcrCacheTarget naming no stage, and a RUN --mount flag BuildKit cannot read. Each error points at the Dockerfile's
    /// line (at the project file for EcrCacheDockerfileInline). The checks are deliberately narrow: anything BuildKit
    /// might accept passes, so a valid Dockerfile is never refused here.
    /// </summary>
    internal static class DockerfileChecks
    {
        private static readonly string[] MountTypes = { "bind", "cache", "tmpfs", "secret", "ssh" };
        private static readonly string[] TargetKeys = { "target", "dst", "destination" };

        /// <param name="file">The Dockerfile, or null for inline text.</param>
        public static void Check(string text, string? file, string? target)
        {
            var stages = new List<string>();
            DockerfileParser.LogicalLine? firstFrom = null;
            foreach (var instruction in DockerfileParser.LogicalLines(text, file))
            {
                var words = ShellWords.SplitRaw(instruction.Text, instruction.Escape);
                if (words.Count == 0)
                {
                    continue;
                }

                var keyword = words[0].ToUpperInvariant();
                if (keyword == "FROM")
                {
                    firstFrom ??= instruction;
                    if (words.Count >= 4 && string.Equals(words[words.Count - 2], "AS", StringComparison.OrdinalIgnoreCase))
                    {
                        stages.Add(words[words.Count - 1]);
                    }
                }
                else if (keyword == "RUN")
                {
                    CheckMounts(instruction, words);
                }
            }

            if (target != null && firstFrom != null && !stages.Any(s => string.Equals(s, target, StringComparison.OrdinalIgnoreCase)))
            {
                var names = stages.Count == 0 ? "none: no FROM line has AS name" : string.Join(", ", stages);
                var diagnostic = Diagnostic.Create(DiagnosticIds.DockerfileTargetUnknown, target, file ?? "EcrCacheDockerfileInline", names);
                throw new EcrCacheException(DockerfileParser.Locate(diagnostic, file, firstFrom.Line, firstFrom.Column));
            }
        }

        /// <summary>The flags before the command: each --mount must have a value with a known type and, where needed, a target.</summary>
        private static void CheckMounts(DockerfileParser.LogicalLine instruction, IReadOnlyList<string> words)
        {
            for (var i = 1; i < words.Count && words[i].StartsWith("--", StringComparison.Ordinal); i++)
            {
                var flag = words[i];
                if (!flag.StartsWith("--mount", StringComparison.Ordinal) || (flag.Length > 7 && flag[7] != '='))
                {
                    continue;
                }

                var value = flag.Length > 8 ? Unquote(flag.Substring(8)) : "";
                var problem = MountProblem(value);
                if (problem != null)
                {
                    var diagnostic = Diagnostic.Create(DiagnosticIds.DockerfileMountInvalid, instruction.Line, flag, problem);
                    throw new EcrCacheException(DockerfileParser.Locate(diagnostic, instruction.File, instruction.Line, instruction.Column));
                }
            }
        }

        private static string? MountProblem(string value)
        {
            if (value.Length == 0)
            {
                return "the flag has no value (write --mount=type=cache,target=/path)";
            }

            var fields = value.Split(',').Select(f => f.Trim()).Where(f => f.Length > 0).ToList();
            var type = "bind";
            var hasTarget = false;
            foreach (var field in fields)
            {
                var eq = field.IndexOf('=');
                var key = (eq < 0 ? field : field.Substring(0, eq)).ToLowerInvariant();
                if (key == "type")
                {
                    type = eq < 0 ? "" : field.Substring(eq + 1).ToLowerInvariant();
                }
                else if (Array.IndexOf(TargetKeys, key) >= 0 && eq > 0 && field.Length > eq + 1)
                {
                    hasTarget = true;
                }
            }

            if (Array.IndexOf(MountTypes, type) < 0)
            {
                return "type '" + type + "' is not one of " + string.Join(", ", MountTypes);
            }

            return (type == "bind" || type == "cache" || type == "tmpfs") && !hasTarget
                ? "a " + type + " mount needs target=/path"
                : null;
        }

        private static string Unquote(string value) =>
            value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[value.Length - 1] == value[0] ? value.Substring(1, value.Length - 2) : value;
    }
}
