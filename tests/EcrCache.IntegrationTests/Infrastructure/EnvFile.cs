using System.Text;
using System.Text.RegularExpressions;

namespace EcrCache.IntegrationTests.Infrastructure;

/// <summary>Reads `export NAME='value'` files (EcrCache's image.env, start-services.sh's services.env).</summary>
public static class EnvFile
{
    public static Dictionary<string, string> Read(string path)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadAllLines(path))
        {
            var m = Regex.Match(line, "^\\s*export\\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)$");
            if (m.Success)
            {
                result[m.Groups[1].Value] = Unquote(m.Groups[2].Value);
            }
        }

        return result;
    }

    /// <summary>POSIX shell word unquoting for '…', "…" and backslash escapes (no expansion).</summary>
    public static string Unquote(string word)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < word.Length; i++)
        {
            var c = word[i];
            if (c == '\'')
            {
                var end = word.IndexOf('\'', i + 1);
                if (end < 0)
                {
                    end = word.Length;
                }

                sb.Append(word, i + 1, end - i - 1);
                i = end;
            }
            else if (c == '"')
            {
                for (i++; i < word.Length && word[i] != '"'; i++)
                {
                    if (word[i] == '\\' && i + 1 < word.Length && "$`\"\\".Contains(word[i + 1]))
                    {
                        i++;
                    }

                    sb.Append(word[i]);
                }
            }
            else if (c == '\\' && i + 1 < word.Length)
            {
                sb.Append(word[++i]);
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }
}
