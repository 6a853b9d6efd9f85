using System.Text;
using EcrCache.Exports;

namespace EcrCache.Tasks.Tests.Exports
{
    [TestClass]
    public sealed class ShellQuotingTests
    {
        [TestMethod]
        [DataRow("", "''")]
        [DataRow("plain", "'plain'")]
        [DataRow("it's", "'it'\\''s'")]
        [DataRow("'", "''\\'''")]
        [DataRow("$(x) `y` \"z\" \\", "'$(x) `y` \"z\" \\'")]
        [DataRow("a\nb", "'a\nb'")]
        public void SingleQuoteWrapsAndEscapesQuotes(string value, string expected)
        {
            Assert.AreEqual(expected, ShellQuoting.SingleQuote(value));
        }

        [TestMethod]
        public void NulCannotBeQuoted()
        {
            Assert.ThrowsExactly<ArgumentException>(() => ShellQuoting.SingleQuote("a\0b"));
        }

        [TestMethod]
        [DataRow("bash")]
        [DataRow("sh")]
        public void QuotedWordsRoundTripAsCommandArguments(string shell)
        {
            var dir = TestPaths.NewTempDirectory();
            var marker = Path.Combine(dir, "pwned");
            var mismatches = new List<string>();
            foreach (var value in NastyValues.All(marker))
            {
                var result = ShellTestHelper.Run(shell, "printf %s " + ShellQuoting.SingleQuote(value));
                if (result.ExitCode != 0 || !result.Stdout.SequenceEqual(Encoding.UTF8.GetBytes(value)))
                {
                    mismatches.Add($"expected [{value}] got [{Encoding.UTF8.GetString(result.Stdout)}] exit {result.ExitCode} stderr [{result.Stderr}]");
                }
            }

            Assert.IsFalse(File.Exists(marker), "a quoted value was executed");
            Assert.AreEqual(0, mismatches.Count, string.Join("\n", mismatches));
        }
    }

    [TestClass]
    public sealed class PowerShellQuotingTests
    {
        [TestMethod]
        [DataRow("", "''")]
        [DataRow("plain", "'plain'")]
        [DataRow("it's", "'it''s'")]
        [DataRow("\u2018a\u2019", "'\u2018\u2018a\u2019\u2019'")]
        [DataRow("\u201A\u201B", "'\u201A\u201A\u201B\u201B'")]
        [DataRow("$x `y` \"z\"", "'$x `y` \"z\"'")]
        [DataRow("a\nb", "'a\nb'")]
        public void SingleQuoteDoublesEveryKindOfSingleQuote(string value, string expected)
        {
            Assert.AreEqual(expected, PowerShellQuoting.SingleQuote(value));
        }

        [TestMethod]
        public void NulIsRejected()
        {
            Assert.ThrowsExactly<ArgumentException>(() => PowerShellQuoting.SingleQuote("a\0b"));
        }
    }

    internal static class NastyValues
    {
        /// <summary>Values that break naive quoting; <paramref name="marker"/> is a file only code execution creates.</summary>
        public static IReadOnlyList<string> All(string marker) => new[]
        {
            string.Empty,
            "'",
            "''",
            "it's",
            "'leading and trailing'",
            "say \"hi\"",
            "line1\nline2",
            "trailing newlines\n\n",
            "\r\nwindows\r\n",
            "$(touch " + marker + ")",
            "`touch " + marker + "`",
            "'$(touch " + marker + ")'",
            "\"$(touch " + marker + ")\"",
            "'; touch " + marker + "; '",
            "$HOME ${HOME} $0 $1 $@ $$",
            "back\\slash\\",
            "\\'",
            "\\n\\t",
            "ünïcødé ✓ 🐳 日本語 עברית",
            "\t tabs  and spaces ",
            "!! !$ ~ * ? [a] {a,b}",
            "-n",
            "%s %d %%",
            "a'b\"c$d`e\\f\ng",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/build-cache/app:0123abcd",
        };

        /// <summary>
        /// Values that break naive PowerShell quoting: PowerShell also ends a single-quoted string at the typographic
        /// quotes U+2018-U+201B, and expands $(), $env: and backtick escapes in double quotes.
        /// </summary>
        public static IReadOnlyList<string> PowerShell(string marker) => new[]
        {
            "\u2018",
            "\u2019",
            "\u201A",
            "\u201B",
            "it\u2019s",
            "\u2019; New-Item -ItemType File -Path '" + marker + "'; \u2019",
            "'\u2019\u2018'",
            "\u2019\u2019",
            "$(New-Item -ItemType File -Path '" + marker + "')",
            "\"$(New-Item -ItemType File -Path '" + marker + "')\"",
            "$env:HOME ${env:PATH} $null $true",
            "`n`t`0 ``",
            "@' here '@ @\" here \"@",
            "# not a comment <# nor this #>",
            "a\u201Cb\u201Dc\u201Ed",
        };
    }
}
