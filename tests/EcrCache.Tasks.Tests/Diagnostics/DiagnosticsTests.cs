using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using EcrCache.Diagnostics;

namespace EcrCache.Tasks.Tests.Diagnostics
{
    [TestClass]
    public sealed class DiagnosticsTests
    {
        private static IReadOnlyList<string> AllIds() =>
            typeof(DiagnosticIds).GetFields(BindingFlags.Public | BindingFlags.Static)
                .Select(f => (string)f.GetRawConstantValue()!)
                .ToList();

        [TestMethod]
        public void EveryDiagnosticHasAUniqueWellFormedCode()
        {
            var seen = new Dictionary<string, string>();
            foreach (var id in AllIds())
            {
                var format = Diagnostic.GetFormat(id);
                var match = Regex.Match(format, "^(ECRC[0-9]{4}): (.+)$", RegexOptions.Singleline);
                Assert.IsTrue(match.Success, $"{id}: '{format}' must start with 'ECRC####: '");
                var code = match.Groups[1].Value;
                Assert.IsFalse(seen.ContainsKey(code), $"{code} is used by both {(seen.TryGetValue(code, out var other) ? other : "")} and {id}");
                seen.Add(code, id);
            }

            Assert.IsTrue(seen.Count > 30, "the catalog should hold every diagnostic");
        }

        [TestMethod]
        public void ResourceFileAndIdsAgree()
        {
            var resx = XDocument.Load(Path.Combine(TestPaths.RepoRoot, "src", "EcrCache.Tasks", "Diagnostics", "Strings.resx"));
            var names = resx.Root!.Elements("data").Select(e => (string)e.Attribute("name")!).ToList();
            CollectionAssert.AreEquivalent(names, AllIds().ToList());
            Assert.AreEqual(names.Count, names.Distinct().Count());
        }

        [TestMethod]
        public void ErrorsSayWhatToChange()
        {
            // Every diagnostic except the generic ones tells the user an action (set, use, check, ...).
            var generic = new HashSet<string> { DiagnosticIds.DockerCommandFailed, DiagnosticIds.DockerTagFailed, DiagnosticIds.RegistryUnexpectedStatus, DiagnosticIds.Cancelled };
            var verbs = new Regex(@"\b(Set|Use|Give|Check|Correct|Install|Start|Create|Export|Fix|Remove|Keep|Run|Add|Write|Put|Clear|Point|Source|Look|Report)\b", RegexOptions.IgnoreCase);
            foreach (var id in AllIds().Where(i => !generic.Contains(i)))
            {
                Assert.IsTrue(verbs.IsMatch(Diagnostic.GetFormat(id)), $"{id} does not say what to change: {Diagnostic.GetFormat(id)}");
            }
        }

        [TestMethod]
        public void TheDocListsEveryCodeWithItsNameCauseAndFix()
        {
            // docs/diagnostics.md: one table row per resource entry, same code and name, a cause and (unless the
            // code is never raised) what to do. Rows for codes that no longer exist fail too.
            var doc = File.ReadAllLines(Path.Combine(TestPaths.RepoRoot, "docs", "diagnostics.md"));
            var rows = new Dictionary<string, string[]>();
            foreach (var line in doc)
            {
                var match = Regex.Match(line, @"^\|\s*(ECRC[0-9]{4})\s*\|");
                if (!match.Success)
                {
                    continue;
                }

                var cells = line.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray();
                Assert.IsFalse(rows.ContainsKey(cells[0]), cells[0] + " is listed twice in docs/diagnostics.md");
                rows.Add(cells[0], cells);
            }

            var expected = new Dictionary<string, string>();
            foreach (var id in AllIds())
            {
                var code = Diagnostic.GetFormat(id).Substring(0, 8);
                expected.Add(code, id);
                Assert.IsTrue(rows.TryGetValue(code, out var cells), code + " (" + id + ") is missing from docs/diagnostics.md");
                Assert.AreEqual(5, cells!.Length, code + ": the row needs code | name | severity | raised when | what to do");
                Assert.AreEqual(id, cells[1], code + ": the name in docs/diagnostics.md differs from Strings.resx");
                Assert.IsTrue(cells[2].Length > 0 && cells[3].Length > 0, code + ": severity and cause must be filled in");
                Assert.IsTrue(cells[4].Length > 0 || cells[2].StartsWith("not raised", System.StringComparison.Ordinal), code + ": say what to do");
            }

            foreach (var code in rows.Keys)
            {
                Assert.IsTrue(expected.ContainsKey(code), code + " is in docs/diagnostics.md but not in Strings.resx");
            }
        }

        [TestMethod]
        public void CreateFormatsArgumentsAndSplitsCode()
        {
            var d = Diagnostic.Create(DiagnosticIds.UnknownProvider, "foo", "local, registry");
            Assert.AreEqual("ECRC1008", d.Code);
            StringAssert.Contains(d.Message, "'foo'");
            StringAssert.Contains(d.Message, "local, registry");
            Assert.AreEqual("ECRC1008: " + d.Message, d.ToString());
        }
    }
}
