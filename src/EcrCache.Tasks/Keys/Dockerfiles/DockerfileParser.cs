using System.Text;

namespace EcrCache.Keys.Dockerfiles
{
    /// <summary>One <c>FROM</c> instruction after ARG substitution.</summary>
    /// <param name="Line">1-based line of the instruction in the Dockerfile.</param>
    /// <param name="Text">The instruction as written (continuations joined), for messages.</param>
    /// <param name="Image">The image (or stage name) after ARG substitution, e.g. <c>node:20</c>, <c>build</c> or <c>scratch</c>.</param>
    /// <param name="Platform">The <c>--platform=</c> value after substitution, or null when the flag is absent.</param>
    /// <param name="StageName">The <c>AS name</c> of this stage (lower case), or null.</param>
    /// <param name="IsStageReference">True when <paramref name="Image"/> names an earlier stage, not an image.</param>
    internal sealed record FromInstruction(int Line, string Text, string Image, string? Platform, string? StageName, bool IsStageReference)
    {
        /// <summary>The Dockerfile the instruction is in, or null for EcrCacheDockerfileInline (the project file).</summary>
        public string? File { get; init; }

        /// <summary>1-based column where the instruction starts on <see cref="Line"/>.</summary>
        public int Column { get; init; } = 1;

        /// <summary><paramref name="diagnostic"/> pointing at this instruction (at the project file for an inline Dockerfile).</summary>
        public Diagnostic Locate(Diagnostic diagnostic) => DockerfileParser.Locate(diagnostic, File, Line, Column);

        public bool IsScratch => string.Equals(Image, "scratch", StringComparison.OrdinalIgnoreCase);

        /// <summary>True for an image that has to come from a registry (not a stage, not scratch).</summary>
        public bool IsExternalImage => !IsStageReference && !IsScratch;

        public override string ToString() => Text;
    }

    /// <summary>
    /// Reads the <c>FROM</c> lines of a Dockerfile the way the Dockerfile frontend does: parser directives
    /// (<c># escape=</c>), line continuations with the escape character, comment lines (also inside continuations),
    /// global <c>ARG</c>s before the first <c>FROM</c> (defaults, overridden by build args), <c>$VAR</c>,
    /// <c>${VAR}</c>, <c>${VAR:-word}</c>, <c>${VAR:+word}</c>, <c>${VAR-word}</c>, <c>${VAR+word}</c> substitution,
    /// the automatic platform ARGs (TARGETPLATFORM, BUILDPLATFORM, ...), <c>--platform=</c>, <c>AS name</c> and later
    /// references to stages. Nothing else of the Dockerfile is interpreted.
    /// </summary>
    internal static class DockerfileParser
    {
        /// <summary>Parses <paramref name="text"/>.</summary>
        /// <param name="buildArgs">
        /// BuildArg values by name; they override the defaults of global ARGs that declare them. A null value is an unset
        /// build arg and overrides nothing (docker keeps the ARG's default for '--build-arg NAME' with NAME unset).
        /// </param>
        /// <param name="targetPlatform">os/arch[/variant] being built (TARGETPLATFORM), or null when unknown.</param>
        /// <param name="buildPlatform">os/arch[/variant] of the builder (BUILDPLATFORM), or null to use the target's.</param>
        /// <param name="file">
        /// The Dockerfile's path, which errors point at with the instruction's line and column; null for inline text,
        /// whose errors point at the project file as a whole (its lines are not the Dockerfile's).
        /// </param>
        public static IReadOnlyList<FromInstruction> ParseFromInstructions(
            string text,
            IEnumerable<KeyValuePair<string, string?>>? buildArgs = null,
            string? targetPlatform = null,
            string? buildPlatform = null,
            string? file = null)
        {
            if (text == null)
            {
                throw new ArgumentNullException(nameof(text));
            }

            var overrides = new Dictionary<string, string>(StringComparer.Ordinal);
            if (buildArgs != null)
            {
                foreach (var pair in buildArgs)
                {
                    if (pair.Value != null)
                    {
                        overrides[pair.Key] = pair.Value;
                    }
                }
            }

            // The automatic platform ARGs are in scope for FROM lines without being declared.
            var globals = new Dictionary<string, string>(StringComparer.Ordinal);
            AddPlatformArgs(globals, "TARGET", targetPlatform ?? buildPlatform);
            AddPlatformArgs(globals, "BUILD", buildPlatform ?? targetPlatform);

            var result = new List<FromInstruction>();
            var stages = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var seenFrom = false;
            foreach (var instruction in LogicalLines(text, file))
            {
                var (keyword, rest) = SplitKeyword(instruction.Text);
                if (keyword.Equals("ARG", StringComparison.OrdinalIgnoreCase))
                {
                    if (seenFrom)
                    {
                        continue;
                    }

                    foreach (var word in ShellWords.SplitRaw(rest, instruction.Escape))
                    {
                        var eq = word.IndexOf('=');
                        var name = eq < 0 ? word : word.Substring(0, eq);
                        if (name.Length == 0)
                        {
                            continue;
                        }

                        if (overrides.TryGetValue(name, out var given))
                        {
                            globals[name] = given;
                        }
                        else if (eq >= 0)
                        {
                            globals[name] = Substitute(Unquote(word.Substring(eq + 1)), globals, instruction);
                        }
                        else
                        {
                            // Declared without a default and not given: unset (substitutes as empty).
                            globals.Remove(name);
                        }
                    }

                    continue;
                }

                if (!keyword.Equals("FROM", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                seenFrom = true;
                var words = ShellWords.SplitRaw(rest, instruction.Escape);
                string? platform = null;
                var i = 0;
                for (; i < words.Count && words[i].StartsWith("--", StringComparison.Ordinal); i++)
                {
                    if (words[i].StartsWith("--platform=", StringComparison.OrdinalIgnoreCase))
                    {
                        platform = Substitute(Unquote(words[i].Substring("--platform=".Length)), globals, instruction);
                    }
                }

                if (i >= words.Count)
                {
                    throw Invalid(instruction, "it names no image");
                }

                var image = Substitute(Unquote(words[i]), globals, instruction).Trim();
                string? stageName = null;
                if (i + 1 < words.Count)
                {
                    if (i + 3 == words.Count && words[i + 1].Equals("AS", StringComparison.OrdinalIgnoreCase))
                    {
                        stageName = words[i + 2].ToLowerInvariant();
                    }
                    else
                    {
                        throw Invalid(instruction, "write FROM [--platform=...] image [AS name]");
                    }
                }

                if (image.Length == 0)
                {
                    throw Invalid(instruction, "the image is empty after ARG substitution (is the ARG declared before the first FROM and given a value?)");
                }

                var isStage = stages.Contains(image);
                result.Add(new FromInstruction(instruction.Line, instruction.Text, image, platform, stageName, isStage) { File = file, Column = instruction.Column });
                if (stageName != null)
                {
                    stages.Add(stageName);
                }
            }

            return result;
        }

        private static void AddPlatformArgs(Dictionary<string, string> args, string prefix, string? platform)
        {
            if (string.IsNullOrEmpty(platform))
            {
                return;
            }

            var parts = platform!.Split('/');
            args[prefix + "PLATFORM"] = platform;
            args[prefix + "OS"] = parts[0];
            args[prefix + "ARCH"] = parts.Length > 1 ? parts[1] : "";
            args[prefix + "VARIANT"] = parts.Length > 2 ? parts[2] : "";
        }

        /// <summary>An instruction: where it starts (<paramref name="File"/> null for inline text), its text and escape character.</summary>
        internal sealed record LogicalLine(string? File, int Line, int Column, string Text, char Escape);

        /// <summary><paramref name="diagnostic"/> at a place of the Dockerfile <paramref name="file"/>; unchanged for inline text (null).</summary>
        internal static Diagnostic Locate(Diagnostic diagnostic, string? file, int line, int column) =>
            file == null ? diagnostic : diagnostic.At(file, line, column);

        private static EcrCacheException Invalid(LogicalLine instruction, string reason) =>
            new EcrCacheException(Locate(Diagnostic.Create(DiagnosticIds.DockerfileFromInvalid, instruction.Line, instruction.Text, reason), instruction.File, instruction.Line, instruction.Column));

        /// <summary>The instructions of the file: directives read, comments dropped, continuations joined.</summary>
        internal static IEnumerable<LogicalLine> LogicalLines(string text, string? file = null)
        {
            var lines = text.Replace("\r\n", "\n").Split('\n');
            var escape = '\\';
            var index = 0;
            if (lines.Length > 0 && lines[0].Length > 0 && lines[0][0] == '\uFEFF')
            {
                lines[0] = lines[0].Substring(1);
            }

            // Parser directives: '# name=value' lines at the very top; anything else ends them.
            for (; index < lines.Length; index++)
            {
                var trimmed = lines[index].Trim();
                if (!trimmed.StartsWith("#", StringComparison.Ordinal))
                {
                    break;
                }

                var body = trimmed.Substring(1).Trim();
                var eq = body.IndexOf('=');
                if (eq <= 0 || body.Substring(0, eq).Trim().IndexOf(' ') >= 0)
                {
                    break; // a plain comment: no more directives
                }

                var name = body.Substring(0, eq).Trim().ToLowerInvariant();
                var value = body.Substring(eq + 1).Trim();
                if (name == "escape")
                {
                    if (value == "`")
                    {
                        escape = '`';
                    }
                    else if (value != "\\")
                    {
                        throw Invalid(new LogicalLine(file, index + 1, Column(lines[index]), trimmed, escape), "the escape directive accepts only \\ or `");
                    }
                }
            }

            var current = new StringBuilder();
            var start = -1;
            var column = 1;
            for (; index < lines.Length; index++)
            {
                var raw = lines[index];
                var trimmedStart = raw.TrimStart();
                if (trimmedStart.StartsWith("#", StringComparison.Ordinal))
                {
                    continue; // comment lines vanish, also in the middle of a continuation
                }

                if (start < 0)
                {
                    if (trimmedStart.Length == 0)
                    {
                        continue;
                    }

                    start = index + 1;
                    column = Column(raw);
                }
                else if (trimmedStart.Length == 0)
                {
                    continue; // empty lines inside a continuation are skipped
                }

                var trimmedEnd = raw.TrimEnd();
                if (trimmedEnd.Length > 0 && trimmedEnd[trimmedEnd.Length - 1] == escape)
                {
                    current.Append(trimmedEnd, 0, trimmedEnd.Length - 1);
                    continue;
                }

                current.Append(raw);
                yield return new LogicalLine(file, start, column, current.ToString().Trim(), escape);
                current.Clear();
                start = -1;
            }

            if (start >= 0 && current.ToString().Trim().Length > 0)
            {
                yield return new LogicalLine(file, start, column, current.ToString().Trim(), escape);
            }
        }

        /// <summary>1-based column of the first character that is not white space (tabs count as one, as IDEs count them).</summary>
        private static int Column(string line) => line.Length - line.TrimStart().Length + 1;

        internal static (string Keyword, string Arguments) SplitKeyword(string line)
        {
            var i = 0;
            while (i < line.Length && !char.IsWhiteSpace(line[i]))
            {
                i++;
            }

            return (line.Substring(0, i), line.Substring(i).Trim());
        }

        private static string Unquote(string word)
        {
            if (word.Length >= 2 && (word[0] == '"' || word[0] == '\'') && word[word.Length - 1] == word[0])
            {
                return word.Substring(1, word.Length - 2);
            }

            return word;
        }

        /// <summary>Replaces $VAR, ${VAR} and the ${VAR:-word} family; an unset variable is empty.</summary>
        internal static string Substitute(string text, IReadOnlyDictionary<string, string> values, char escape = '\\') =>
            Substitute(text, values, new LogicalLine(null, 0, 1, text, escape));

        internal static string Substitute(string text, IReadOnlyDictionary<string, string> values, LogicalLine instruction) =>
            VariableReferences.Substitute(
                text,
                dollarEscape: instruction.Escape,
                nestedBraces: true,
                name => values.TryGetValue(name, out var value) ? value : null,
                inner => Expand(inner, values, instruction),
                () => Invalid(instruction, "a ${ has no closing }"));

        private static string Expand(string inner, IReadOnlyDictionary<string, string> values, LogicalLine instruction)
        {
            var n = VariableReferences.NameEnd(inner, 0);
            var name = inner.Substring(0, n);
            if (name.Length == 0)
            {
                throw Invalid(instruction, "'${" + inner + "}' is not a variable");
            }

            var isSet = values.TryGetValue(name, out var value);
            if (n == inner.Length)
            {
                return isSet ? value! : "";
            }

            var op = inner.Substring(n);
            string word;
            if (op.StartsWith(":-", StringComparison.Ordinal) || op.StartsWith(":+", StringComparison.Ordinal))
            {
                word = Substitute(op.Substring(2), values, instruction);
                var nonEmpty = isSet && value!.Length > 0;
                return op[1] == '-' ? (nonEmpty ? value! : word) : (nonEmpty ? word : "");
            }

            if (op[0] == '-' || op[0] == '+')
            {
                word = Substitute(op.Substring(1), values, instruction);
                return op[0] == '-' ? (isSet ? value! : word) : (isSet ? word : "");
            }

            throw Invalid(instruction, "'${" + inner + "}' uses a modifier EcrCache does not understand (use :-, :+, - or +)");
        }
    }
}
