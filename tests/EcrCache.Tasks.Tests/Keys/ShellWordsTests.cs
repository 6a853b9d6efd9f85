using EcrCache.Keys;

namespace EcrCache.Tasks.Tests.Keys
{
    [TestClass]
    public sealed class ShellWordsTests
    {
        [TestMethod]
        [DataRow("--build-arg A=1  --label x", new[] { "--build-arg", "A=1", "--label", "x" })]
        [DataRow("--label 'a b' --label \"c d\"", new[] { "--label", "a b", "--label", "c d" })]
        [DataRow("\"a\\\"b\" 'a\\b' a\\ b \"\\x\"", new[] { "a\"b", "a\\b", "a b", "\\x" })]
        [DataRow("'' \"\" x\\", new[] { "", "", "x\\" })]
        public void Split_ReadsLikeAPosixShell(string text, string[] expected) =>
            CollectionAssert.AreEqual(expected, ShellWords.Split(text, q => new InvalidOperationException("unterminated " + q)));

        [TestMethod]
        public void Split_UnterminatedQuote_IsReported()
        {
            var ex = Assert.ThrowsExactly<InvalidOperationException>(() => ShellWords.Split("--label 'open", q => new InvalidOperationException("unterminated " + q)));
            Assert.AreEqual("unterminated '", ex.Message);
        }

        [TestMethod]
        [DataRow("--platform=$P \"${IMAGE}\" AS build", '\\', new[] { "--platform=$P", "\"${IMAGE}\"", "AS", "build" })]
        [DataRow("'a b' c`  d", '`', new[] { "'a b'", "c` ", "d" })]
        [DataRow("\"open quote", '\\', new[] { "\"open quote" })]
        public void SplitRaw_KeepsQuotesAndEscapes(string text, char escape, string[] expected) =>
            CollectionAssert.AreEqual(expected, ShellWords.SplitRaw(text, escape));
    }
}
