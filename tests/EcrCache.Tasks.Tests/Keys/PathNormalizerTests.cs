using EcrCache.Keys;

namespace EcrCache.Tasks.Tests.Keys
{
    [TestClass]
    public sealed class PathNormalizerTests
    {
        [TestMethod]
        [DataRow("a/b.json", "a/b.json")]
        [DataRow("a\\b.json", "a/b.json")]
        [DataRow("./a/b.json", "a/b.json")]
        [DataRow(".\\a\\b.json", "a/b.json")]
        [DataRow("././a/b.json", "a/b.json")]
        [DataRow("a/./b.json", "a/b.json")]
        [DataRow("a//b.json", "a/b.json")]
        [DataRow("a\\\\b.json", "a/b.json")]
        [DataRow("a/b/", "a/b")]
        [DataRow("a/b/.", "a/b")]
        [DataRow("a/../b", "a/../b")]
        [DataRow("../x", "../x")]
        [DataRow("/abs//x", "/abs/x")]
        [DataRow("Src/Package.JSON", "Src/Package.JSON")]
        [DataRow(".hidden/.x", ".hidden/.x")]
        [DataRow("a/.../b", "a/.../b")]
        [DataRow(".", "")]
        [DataRow("./", "")]
        [DataRow("", "")]
        [DataRow("C:\\src\\a.json", "C:/src/a.json")]
        public void Normalizes(string input, string expected)
        {
            Assert.AreEqual(expected, PathNormalizer.Normalize(input));
        }

        [TestMethod]
        public void ReturnsTheSameInstanceWhenAlreadyNormal()
        {
            var path = "src/app/package.json";
            Assert.AreSame(path, PathNormalizer.Normalize(path));
        }
    }
}
