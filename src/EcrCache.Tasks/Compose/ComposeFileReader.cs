using System.Text;
using EcrCache.Keys;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace EcrCache.Compose
{
    /// <summary>A Compose service's <c>build:</c> section, interpolated and with paths made absolute.</summary>
    internal sealed class ComposeBuild
    {
        public string Service { get; set; } = "";

        public string ComposeFile { get; set; } = "";

        /// <summary>The build context folder (absolute).</summary>
        public string Context { get; set; } = "";

        /// <summary>The Dockerfile (absolute; default Dockerfile in the context), or null when <see cref="DockerfileInline"/> is set.</summary>
        public string? Dockerfile { get; set; }

        public string? DockerfileInline { get; set; }

        public string? Target { get; set; }

        /// <summary>The service's platform: build.platforms (comma-joined) or the service's platform:, or null.</summary>
        public string? Platform { get; set; }

        /// <summary>Build args in file order. A null value means "from the environment" and the variable was unset (Compose omits those).</summary>
        public IList<KeyValuePair<string, string?>> Args { get; } = new List<KeyValuePair<string, string?>>();

        /// <summary>1-based line and column of the service's <c>build:</c> key.</summary>
        public (int Line, int Column) BuildAt { get; set; }

        /// <summary>Where the keys of the build: section (and the service's platform:) are, by key name.</summary>
        public Dictionary<string, (int Line, int Column)> KeysAt { get; } = new Dictionary<string, (int Line, int Column)>(StringComparer.Ordinal);

        /// <summary>
        /// <paramref name="diagnostic"/> pointing at the first of <paramref name="keys"/> the Compose file sets, else at
        /// the service's build: key: an IDE opens the Compose file where the value that decided it is.
        /// </summary>
        public Diagnostic Locate(Diagnostic diagnostic, params string[] keys)
        {
            foreach (var key in keys)
            {
                if (KeysAt.TryGetValue(key, out var at))
                {
                    return diagnostic.At(ComposeFile, at.Line, at.Column);
                }
            }

            return diagnostic.At(ComposeFile, BuildAt.Line, BuildAt.Column);
        }
    }

    /// <summary>
    /// Reads one service's <c>build:</c> section from a Compose file with YamlDotNet: the short form (a context
    /// string) and the long form (context, dockerfile, dockerfile_inline, target, args as a map or a list), with
    /// Compose's interpolation (<c>$VAR</c>, <c>${VAR}</c>, <c>${VAR:-default}</c>, <c>${VAR-default}</c>,
    /// <c>${VAR:+alt}</c>, <c>${VAR+alt}</c>, <c>${VAR:?error}</c>, <c>${VAR?error}</c>, <c>$$</c>) from the build's
    /// environment and then the <c>.env</c> file beside the Compose file (the environment wins, as in Compose).
    /// Not supported: <c>extends</c>, <c>include</c>, several -f files, YAML merge keys.
    /// </summary>
    internal static class ComposeFileReader
    {
        public static ComposeBuild Read(string composeFile, string service, Func<string, string?> environment)
        {
            if (!File.Exists(composeFile))
            {
                throw new EcrCacheException(DiagnosticIds.ComposeFileInvalid, composeFile, "the file does not exist");
            }

            YamlMappingNode root;
            try
            {
                var stream = new YamlStream();
                using (var reader = new StreamReader(composeFile, Encoding.UTF8))
                {
                    stream.Load(reader);
                }

                if (stream.Documents.Count == 0)
                {
                    throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.ComposeFileInvalid, composeFile, "the file is empty").At(composeFile, 0));
                }

                var top = stream.Documents[0].RootNode;
                root = top as YamlMappingNode ?? throw new EcrCacheException(At(Diagnostic.Create(DiagnosticIds.ComposeFileInvalid, composeFile, "the top level is not a mapping"), composeFile, top.Start));
            }
            catch (YamlException ex)
            {
                throw new EcrCacheException(At(Diagnostic.Create(DiagnosticIds.ComposeFileInvalid, composeFile, ex.Message), composeFile, ex.Start), ex);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.ComposeFileInvalid, composeFile, ex.Message), ex);
            }

            var composeDir = Path.GetDirectoryName(Path.GetFullPath(composeFile))!;
            var dotEnv = ReadDotEnv(Path.Combine(composeDir, ".env"));
            Func<string, string?> lookup = name => environment(name) ?? (dotEnv.TryGetValue(name, out var v) ? v : null);

            var servicesKey = Key(root, "services");
            var services = Child(root, "services") as YamlMappingNode;
            var names = new List<string>();
            YamlNode? serviceKey = null;
            YamlNode? serviceNode = null;
            if (services != null)
            {
                foreach (var pair in services.Children)
                {
                    var name = ((YamlScalarNode)pair.Key).Value ?? "";
                    names.Add(name);
                    if (name == service)
                    {
                        serviceKey = pair.Key;
                        serviceNode = pair.Value;
                    }
                }
            }

            if (serviceNode == null)
            {
                var missing = Diagnostic.Create(DiagnosticIds.ComposeServiceMissing, service, composeFile, names.Count == 0 ? "(none)" : string.Join(", ", names));
                throw new EcrCacheException(servicesKey != null ? At(missing, composeFile, servicesKey.Start) : missing.At(composeFile, 0));
            }

            var serviceMap = serviceNode as YamlMappingNode;
            var buildKey = serviceMap != null ? Key(serviceMap, "build") : null;
            var build = serviceMap != null ? Child(serviceMap, "build") : null;
            if (build == null)
            {
                throw Invalid(service, composeFile, serviceKey, "the service has no build: section (it only names an image)");
            }

            var result = new ComposeBuild { Service = service, ComposeFile = Path.GetFullPath(composeFile), BuildAt = Position(buildKey!.Start) };
            string context = ".";
            string? dockerfile = null;
            if (build is YamlScalarNode shortForm)
            {
                context = Interpolate(shortForm.Value ?? ".", lookup, service, composeFile, shortForm);
            }
            else if (build is YamlMappingNode map)
            {
                foreach (var pair in map.Children)
                {
                    if (pair.Key is YamlScalarNode key && key.Value != null)
                    {
                        result.KeysAt[key.Value] = Position(key.Start);
                    }
                }

                context = Scalar(map, "context", lookup, service, composeFile) ?? ".";
                dockerfile = Scalar(map, "dockerfile", lookup, service, composeFile);
                result.DockerfileInline = Scalar(map, "dockerfile_inline", lookup, service, composeFile);
                result.Target = Scalar(map, "target", lookup, service, composeFile);
                ReadArgs(Child(map, "args"), result, lookup, service, composeFile);
                if (Child(map, "platforms") is YamlSequenceNode platforms && platforms.Children.Count > 0)
                {
                    var list = new List<string>();
                    foreach (var item in platforms.Children)
                    {
                        list.Add(Interpolate((item as YamlScalarNode)?.Value ?? "", lookup, service, composeFile, item));
                    }

                    result.Platform = string.Join(",", list);
                }
            }
            else
            {
                throw Invalid(service, composeFile, build, "build: is neither a context path nor a mapping");
            }

            if (result.Platform == null && serviceMap != null)
            {
                result.Platform = Scalar(serviceMap, "platform", lookup, service, composeFile);
                if (result.Platform != null)
                {
                    result.KeysAt["platform"] = Position(Key(serviceMap, "platform")!.Start);
                }
            }

            if (context.IndexOf("://", StringComparison.Ordinal) >= 0 || context.StartsWith("git@", StringComparison.Ordinal))
            {
                throw new EcrCacheException(result.Locate(Diagnostic.Create(DiagnosticIds.ComposeBuildInvalid, service, composeFile, "the context '" + context + "' is a URL; EcrCache keys and builds local contexts only"), "context"));
            }

            if (dockerfile != null && result.DockerfileInline != null)
            {
                throw new EcrCacheException(result.Locate(Diagnostic.Create(DiagnosticIds.ComposeBuildInvalid, service, composeFile, "it sets both dockerfile and dockerfile_inline"), "dockerfile_inline"));
            }

            result.Context = Path.GetFullPath(Path.Combine(composeDir, context));
            if (result.DockerfileInline == null)
            {
                result.Dockerfile = Path.GetFullPath(Path.Combine(result.Context, dockerfile ?? "Dockerfile"));
            }

            return result;
        }

        private static void ReadArgs(YamlNode? args, ComposeBuild result, Func<string, string?> lookup, string service, string file)
        {
            if (args == null)
            {
                return;
            }

            if (args is YamlMappingNode map)
            {
                foreach (var pair in map.Children)
                {
                    var name = ((YamlScalarNode)pair.Key).Value ?? "";
                    var value = pair.Value is YamlScalarNode s && !IsNull(s) ? Interpolate(s.Value ?? "", lookup, service, file, s) : lookup(name);
                    result.Args.Add(new KeyValuePair<string, string?>(name, value));
                }
            }
            else if (args is YamlSequenceNode list)
            {
                foreach (var item in list.Children)
                {
                    var text = Interpolate((item as YamlScalarNode)?.Value ?? "", lookup, service, file, item);
                    var eq = text.IndexOf('=');
                    var name = eq < 0 ? text : text.Substring(0, eq);
                    result.Args.Add(new KeyValuePair<string, string?>(name, eq < 0 ? lookup(name) : text.Substring(eq + 1)));
                }
            }
            else
            {
                throw Invalid(service, file, args, "build.args is neither a mapping nor a list");
            }
        }

        private static bool IsNull(YamlScalarNode node) =>
            node.Style == YamlDotNet.Core.ScalarStyle.Plain && (node.Value == null || node.Value.Length == 0 || node.Value == "~" || node.Value == "null");

        private static YamlNode? Child(YamlMappingNode map, string name) => Pair(map, name)?.Value;

        /// <summary>The key node of <paramref name="name"/>: errors about a value point at its key's line.</summary>
        private static YamlNode? Key(YamlMappingNode map, string name) => Pair(map, name)?.Key;

        private static KeyValuePair<YamlNode, YamlNode>? Pair(YamlMappingNode map, string name)
        {
            foreach (var pair in map.Children)
            {
                if (pair.Key is YamlScalarNode key && key.Value == name)
                {
                    return pair;
                }
            }

            return null;
        }

        private static (int Line, int Column) Position(Mark mark) => ((int)mark.Line, (int)mark.Column);

        private static Diagnostic At(Diagnostic diagnostic, string file, Mark mark) => diagnostic.At(file, (int)mark.Line, (int)mark.Column);

        /// <summary>ECRC1027 pointing at <paramref name="node"/> of the Compose file (at the file as a whole without one).</summary>
        private static EcrCacheException Invalid(string service, string file, YamlNode? node, string reason)
        {
            var diagnostic = Diagnostic.Create(DiagnosticIds.ComposeBuildInvalid, service, file, reason);
            return new EcrCacheException(node != null ? At(diagnostic, file, node.Start) : file.Length > 0 ? diagnostic.At(file, 0) : diagnostic);
        }

        private static string? Scalar(YamlMappingNode map, string name, Func<string, string?> lookup, string service, string file)
        {
            var node = Child(map, name);
            if (node == null || (node is YamlScalarNode n && IsNull(n)))
            {
                return null;
            }

            if (!(node is YamlScalarNode scalar))
            {
                throw Invalid(service, file, node, "build." + name + " is not a string");
            }

            return Interpolate(scalar.Value ?? "", lookup, service, file, scalar);
        }

        /// <summary>Compose interpolation of one value; errors point at <paramref name="node"/>, the value's node.</summary>
        public static string Interpolate(string text, Func<string, string?> lookup, string service = "", string file = "", YamlNode? node = null) =>
            VariableReferences.Substitute(
                text,
                dollarEscape: '$',
                nestedBraces: false,
                lookup,
                inner => Expand(inner, lookup, service, file, node),
                () => Invalid(service, file, node, "'" + text + "' has a ${ without }"));

        private static string Expand(string inner, Func<string, string?> lookup, string service, string file, YamlNode? node)
        {
            var n = VariableReferences.NameEnd(inner, 0);
            var name = inner.Substring(0, n);
            var value = name.Length > 0 ? lookup(name) : null;
            if (n == inner.Length)
            {
                return value ?? "";
            }

            var op = inner.Substring(n);
            var colon = op.StartsWith(":", StringComparison.Ordinal);
            var kind = colon ? (op.Length > 1 ? op[1] : ' ') : op[0];
            var word = op.Substring(colon ? 2 : 1);
            var present = colon ? !string.IsNullOrEmpty(value) : value != null;
            switch (kind)
            {
                case '-':
                    return present ? value! : Interpolate(word, lookup, service, file, node);
                case '+':
                    return present ? Interpolate(word, lookup, service, file, node) : "";
                case '?':
                    if (!present)
                    {
                        throw Invalid(service, file, node, "required variable " + name + " is missing a value: " + word);
                    }

                    return value!;
                default:
                    throw Invalid(service, file, node, "'${" + inner + "}' is not valid interpolation");
            }
        }

        /// <summary>KEY=VALUE lines; # comments, blank lines, 'export ', single or double quotes.</summary>
        internal static Dictionary<string, string> ReadDotEnv(string path)
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            if (!File.Exists(path))
            {
                return values;
            }

            foreach (var rawLine in File.ReadAllLines(path))
            {
                var line = rawLine.Trim();
                if (line.Length == 0 || line[0] == '#')
                {
                    continue;
                }

                if (line.StartsWith("export ", StringComparison.Ordinal))
                {
                    line = line.Substring(7).TrimStart();
                }

                var eq = line.IndexOf('=');
                if (eq <= 0)
                {
                    continue;
                }

                var key = line.Substring(0, eq).Trim();
                var value = line.Substring(eq + 1).Trim();
                if (value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[value.Length - 1] == value[0])
                {
                    value = value.Substring(1, value.Length - 2);
                }
                else
                {
                    var hash = value.IndexOf(" #", StringComparison.Ordinal);
                    if (hash >= 0)
                    {
                        value = value.Substring(0, hash).TrimEnd();
                    }
                }

                values[key] = value;
            }

            return values;
        }
    }
}
