using EcrCache.Diagnostics;
using EcrCache.Registries.Oci;

namespace EcrCache.Tasks.Tests.Registries
{
    [TestClass]
    public sealed class RegistryEndpointTests
    {
        [TestMethod]
        [DataRow("localhost", "http://localhost/")]
        [DataRow("localhost:5000", "http://localhost:5000/")]
        [DataRow("LOCALHOST:5000", "http://localhost:5000/")]
        [DataRow("127.0.0.1:5000", "http://127.0.0.1:5000/")]
        [DataRow("127.10.20.30", "http://127.10.20.30/")]
        [DataRow("[::1]:5000", "http://[::1]:5000/")]
        [DataRow("[::1]", "http://[::1]/")]
        public void LoopbackIsPlainHttp(string host, string baseUri)
        {
            var endpoint = RegistryEndpoint.Parse(host, insecure: false);
            Assert.AreEqual(baseUri, endpoint.BaseUri.ToString());
            Assert.IsTrue(endpoint.IsLoopback);
            Assert.IsTrue(endpoint.IsPlainHttp);
            Assert.IsFalse(endpoint.IsInsecure);
        }

        [TestMethod]
        [DataRow("registry.example.com", "https://registry.example.com/")]
        [DataRow("registry.example.com:5000", "https://registry.example.com:5000/")]
        [DataRow("123456789012.dkr.ecr.us-east-1.amazonaws.com", "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/")]
        [DataRow("10.0.0.5:5000", "https://10.0.0.5:5000/")]
        [DataRow("128.0.0.1", "https://128.0.0.1/")]
        [DataRow("localhost.example.com", "https://localhost.example.com/")]
        [DataRow("127.0.0.1.nip.io", "https://127.0.0.1.nip.io/")]
        [DataRow("[2001:db8::1]:8443", "https://[2001:db8::1]:8443/")]
        [DataRow("ghcr.io", "https://ghcr.io/")]
        [DataRow("docker.io", "https://registry-1.docker.io/")]
        [DataRow("index.docker.io", "https://registry-1.docker.io/")]
        public void OtherHostsAreHttps(string host, string baseUri)
        {
            var endpoint = RegistryEndpoint.Parse(host, insecure: false);
            Assert.AreEqual(baseUri, endpoint.BaseUri.ToString());
            Assert.IsFalse(endpoint.IsLoopback);
            Assert.IsFalse(endpoint.IsPlainHttp);
            Assert.AreEqual(host.ToLowerInvariant(), endpoint.Host);
        }

        [TestMethod]
        public void InsecureMeansPlainHttp()
        {
            var endpoint = RegistryEndpoint.Parse("registry.internal:5000", insecure: true);
            Assert.AreEqual("http://registry.internal:5000/", endpoint.BaseUri.ToString());
            Assert.IsTrue(endpoint.IsInsecure);
            Assert.AreEqual("registry.internal:5000", endpoint.Host);
            Assert.AreEqual("registry.internal", endpoint.HostName);
            Assert.AreEqual(5000, endpoint.Port);
        }

        [TestMethod]
        [DataRow("")]
        [DataRow("   ")]
        [DataRow("https://registry.example.com")]
        [DataRow("http://localhost:5000")]
        [DataRow("registry.example.com/path")]
        [DataRow("registry.example.com/")]
        [DataRow("user@registry.example.com")]
        [DataRow("registry.example.com:")]
        [DataRow("registry.example.com:0")]
        [DataRow("registry.example.com:65536")]
        [DataRow("registry.example.com:abc")]
        [DataRow("registry example.com")]
        [DataRow("::1")]
        [DataRow("[::1")]
        [DataRow("[not-ip]:5000")]
        [DataRow("-bad.example.com")]
        [DataRow("bad-.example.com")]
        [DataRow("a..b")]
        [DataRow("registry.example.com?x")]
        [DataRow("régistry.example.com")]
        public void BadHostsAreECRC1013(string host)
        {
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => RegistryEndpoint.Parse(host, insecure: false));
            Assert.AreEqual("ECRC1013", ex.Diagnostic.Code);
            Assert.IsFalse(RegistryEndpoint.TryParse(host, false, out _));
        }

        [TestMethod]
        [DataRow("localhost", true)]
        [DataRow("127.0.0.1", true)]
        [DataRow("127.255.0.1", true)]
        [DataRow("::1", true)]
        [DataRow("[::1]", true)]
        [DataRow("10.0.0.1", false)]
        [DataRow("example.com", false)]
        [DataRow("127.0.0.1.example.com", false)]
        [DataRow("", false)]
        public void IsLoopbackHost(string host, bool expected) => Assert.AreEqual(expected, RegistryEndpoint.IsLoopbackHost(host));
    }
}
