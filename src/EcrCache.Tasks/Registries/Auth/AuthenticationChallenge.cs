using System.Text;

namespace EcrCache.Registries.Auth
{
    /// <summary>
    /// One challenge of a <c>WWW-Authenticate</c> header (RFC 7235): a scheme (<c>Basic</c>, <c>Bearer</c>) and its
    /// parameters (<c>realm</c>, <c>service</c>, <c>scope</c>, <c>error</c>, ...). Parameter names are
    /// case-insensitive; quoted values may contain commas, '=' and backslash escapes.
    /// </summary>
    internal sealed class AuthenticationChallenge
    {
        public AuthenticationChallenge(string scheme, IDictionary<string, string>? parameters = null, string? token68 = null)
        {
            Scheme = scheme ?? throw new ArgumentNullException(nameof(scheme));
            var copy = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (parameters != null)
            {
                foreach (var pair in parameters)
                {
                    copy[pair.Key] = pair.Value;
                }
            }

            Parameters = copy;
            Token68 = token68;
        }

        public string Scheme { get; }

        public IReadOnlyDictionary<string, string> Parameters { get; }

        /// <summary>A bare token after the scheme (e.g. <c>Negotiate abc==</c>), if any.</summary>
        public string? Token68 { get; }

        public string? Realm => GetParameter("realm");

        public string? Service => GetParameter("service");

        public string? Scope => GetParameter("scope");

        public string? Error => GetParameter("error");

        public bool IsBasic => string.Equals(Scheme, "Basic", StringComparison.OrdinalIgnoreCase);

        public bool IsBearer => string.Equals(Scheme, "Bearer", StringComparison.OrdinalIgnoreCase);

        public string? GetParameter(string name) => Parameters.TryGetValue(name, out var value) ? value : null;

        public override string ToString()
        {
            var sb = new StringBuilder(Scheme);
            var first = true;
            if (Token68 != null)
            {
                sb.Append(' ').Append(Token68);
                first = false;
            }

            foreach (var pair in Parameters)
            {
                sb.Append(first ? " " : ",");
                first = false;
                sb.Append(pair.Key).Append("=\"").Append(pair.Value.Replace("\\", "\\\\").Replace("\"", "\\\"")).Append('"');
            }

            return sb.ToString();
        }

        /// <summary>Parses every challenge in one or more header values. Malformed parts are skipped, never thrown.</summary>
        public static IReadOnlyList<AuthenticationChallenge> Parse(IEnumerable<string> headerValues)
        {
            var result = new List<AuthenticationChallenge>();
            foreach (var value in headerValues)
            {
                result.AddRange(Parse(value));
            }

            return result;
        }

        /// <summary>Parses every challenge in a header value. Malformed parts are skipped, never thrown.</summary>
        public static IReadOnlyList<AuthenticationChallenge> Parse(string? headerValue)
        {
            var result = new List<AuthenticationChallenge>();
            if (string.IsNullOrEmpty(headerValue))
            {
                return result;
            }

            var s = headerValue!;
            var i = 0;
            string? scheme = null;
            string? token68 = null;
            Dictionary<string, string>? parameters = null;

            void Flush()
            {
                if (scheme != null)
                {
                    result.Add(new AuthenticationChallenge(scheme, parameters, token68));
                }

                scheme = null;
                token68 = null;
                parameters = null;
            }

            while (i < s.Length)
            {
                SkipWhitespaceAndCommas(s, ref i);
                if (i >= s.Length)
                {
                    break;
                }

                var tokenStart = i;
                while (i < s.Length && !IsWhitespace(s[i]) && s[i] != ',' && s[i] != '=' && s[i] != '"')
                {
                    i++;
                }

                var token = s.Substring(tokenStart, i - tokenStart);
                if (token.Length == 0)
                {
                    // A stray '=' or quote: skip it.
                    if (s[i] == '"')
                    {
                        ReadQuoted(s, ref i);
                    }
                    else
                    {
                        i++;
                    }

                    continue;
                }

                SkipWhitespace(s, ref i);
                if (i < s.Length && s[i] == '=' && scheme != null)
                {
                    // token68 ("abc==") ends in '=' characters followed by the end, a comma or whitespace.
                    var j = i;
                    while (j < s.Length && s[j] == '=')
                    {
                        j++;
                    }

                    var k = j;
                    SkipWhitespace(s, ref k);
                    if (parameters == null && token68 == null && j > i + 1 && (k >= s.Length || s[k] == ','))
                    {
                        token68 = s.Substring(tokenStart, j - tokenStart);
                        i = j;
                        continue;
                    }

                    // auth-param: name = (token | quoted-string)
                    i++;
                    SkipWhitespace(s, ref i);
                    string value;
                    if (i < s.Length && s[i] == '"')
                    {
                        value = ReadQuoted(s, ref i);
                    }
                    else
                    {
                        var valueStart = i;
                        while (i < s.Length && s[i] != ',' && !IsWhitespace(s[i]))
                        {
                            i++;
                        }

                        value = s.Substring(valueStart, i - valueStart);
                    }

                    parameters ??= new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                    if (!parameters.ContainsKey(token))
                    {
                        parameters[token] = value;
                    }

                    continue;
                }

                if (i < s.Length && s[i] == '=')
                {
                    // "name=value" before any scheme: malformed; skip the value.
                    i++;
                    SkipWhitespace(s, ref i);
                    if (i < s.Length && s[i] == '"')
                    {
                        ReadQuoted(s, ref i);
                    }

                    continue;
                }

                // A bare token: a token68 right after a scheme ("Negotiate abc"), else a new challenge's scheme.
                if (scheme != null && parameters == null && token68 == null && !PrecededByComma(s, tokenStart))
                {
                    token68 = token;
                    continue;
                }

                Flush();
                scheme = token;
            }

            Flush();
            return result;
        }

        private static bool PrecededByComma(string s, int index)
        {
            var i = index - 1;
            while (i >= 0 && IsWhitespace(s[i]))
            {
                i--;
            }

            return i >= 0 && s[i] == ',';
        }

        private static string ReadQuoted(string s, ref int i)
        {
            // s[i] == '"'
            i++;
            var sb = new StringBuilder();
            while (i < s.Length)
            {
                var c = s[i++];
                if (c == '\\' && i < s.Length)
                {
                    sb.Append(s[i++]);
                }
                else if (c == '"')
                {
                    break;
                }
                else
                {
                    sb.Append(c);
                }
            }

            return sb.ToString();
        }

        private static void SkipWhitespace(string s, ref int i)
        {
            while (i < s.Length && IsWhitespace(s[i]))
            {
                i++;
            }
        }

        private static void SkipWhitespaceAndCommas(string s, ref int i)
        {
            while (i < s.Length && (IsWhitespace(s[i]) || s[i] == ','))
            {
                i++;
            }
        }

        private static bool IsWhitespace(char c) => c == ' ' || c == '\t' || c == '\r' || c == '\n';
    }
}
