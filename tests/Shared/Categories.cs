namespace EcrCache.TestSupport
{
    /// <summary>
    /// The <c>[TestCategory]</c> of every test that needs a service of build/start-services.sh, so that
    /// <c>--filter "TestCategory!=docker&amp;TestCategory!=registry&amp;TestCategory!=moto"</c> runs the tests that
    /// need none (see docs/development.md, "Running a subset of the tests").
    /// </summary>
    public static class Categories
    {
        /// <summary>The machine's dockerd, with the base image start-services.sh loads (or a second dockerd of the test's own).</summary>
        public const string Docker = "docker";

        /// <summary>A docker-registry: the open or the htpasswd one of services.env, or one the test starts itself.</summary>
        public const string Registry = "registry";

        /// <summary>moto_server: the shared one of services.env, or one the test starts itself.</summary>
        public const string Moto = "moto";
    }
}
