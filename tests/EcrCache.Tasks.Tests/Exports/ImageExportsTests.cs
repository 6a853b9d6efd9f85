using EcrCache.Exports;

namespace EcrCache.Tasks.Tests.Exports
{
    [TestClass]
    public sealed class ImageExportsTests
    {
        private const string Image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/build-cache/app";

        [TestMethod]
        public void ExportsImageWithTagThenImageThenTag()
        {
            var vars = ImageExports.Variables("BUILDKITE_PLUGIN_DOCKER_IMAGE", Image, "abc123");

            CollectionAssert.AreEqual(
                new[]
                {
                    new KeyValuePair<string, string>("BUILDKITE_PLUGIN_DOCKER_IMAGE", Image + ":abc123"),
                    new KeyValuePair<string, string>("BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_IMAGE", Image),
                    new KeyValuePair<string, string>("BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_TAG", "abc123"),
                },
                vars.ToArray());
        }

        [TestMethod]
        [DataRow("BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_IMAGE", "BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_TAG", "abc123")]
        [DataRow("BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_TAG", "BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_IMAGE", Image)]
        public void ExportVariableThatIsAFixedNameIsListedOnceWithImageAndTag(string exportVariable, string other, string otherValue)
        {
            var vars = ImageExports.Variables(exportVariable, Image, "abc123");

            Assert.HasCount(2, vars);
            Assert.AreEqual(new KeyValuePair<string, string>(exportVariable, Image + ":abc123"), vars[0]);
            Assert.AreEqual(new KeyValuePair<string, string>(other, otherValue), vars[1]);
        }

        [TestMethod]
        public void ResultIsWritableToAnEnvFile()
        {
            var file = Path.Combine(TestPaths.NewTempDirectory(), "exports.env");
            Assert.IsTrue(EnvFileWriter.Write(file, ImageExports.Variables("MY_IMAGE", Image, "abc123")));
        }
    }
}
