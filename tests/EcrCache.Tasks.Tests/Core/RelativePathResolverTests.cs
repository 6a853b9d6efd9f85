using EcrCache.Core;
using EcrCache.Options;

namespace EcrCache.Tasks.Tests.Core
{
    /// <summary>The fast relative path must be exactly OptionsParser.RelativePath, also for paths it hands to the slow route.</summary>
    [TestClass]
    public sealed class RelativePathResolverTests
    {
        [TestMethod]
        public void AgreesWithOptionsParserRelativePath()
        {
            var root = TestPaths.NewTempDirectory("ecrcache-relpath");
            var sep = Path.DirectorySeparatorChar;
            var bases = new[] { root, root + sep, root + sep + "." + sep, Path.Combine(root, "proj") };
            var files = new[]
            {
                Path.Combine(root, "a.json"),
                Path.Combine(root, "proj", "packages", "x", "package.json"),
                Path.Combine(root, "proj", "..", "proj", "b.json"),
                root + sep + sep + "proj" + sep + "c.json",
                Path.Combine(root, "proj", ".", "d.json"),
                Path.Combine(root, "other", "e.json"),
                Path.Combine(root, "proj") + "x" + sep + "f.json", // shares the prefix but not the folder
                Path.Combine(root, "proj", ".hidden", "..x", "g.json"),
            };
            foreach (var b in bases)
            {
                var resolver = new RelativePathResolver(b);
                foreach (var f in files)
                {
                    Assert.AreEqual(InputOptions.RelativePath(b, f), resolver.Of(f), "base " + b + ", file " + f);
                }
            }
        }
    }
}
