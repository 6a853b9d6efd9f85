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
