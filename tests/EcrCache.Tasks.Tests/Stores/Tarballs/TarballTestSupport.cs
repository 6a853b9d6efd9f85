using EcrCache.Core;
using EcrCache.Options;
using EcrCache.Tasks.Tests.Core;

namespace EcrCache.Tasks.Tests.Stores.Tarballs
{
    /// <summary>A project folder, a unique repository and the engine options for the tarball providers.</summary>
    internal sealed class TarballProject : IDisposable
    {
        public TarballProject(string prefix)
        {
            Directory = TestPaths.NewTempDirectory(prefix);
            Repository = "build-cache/tarball-" + Guid.NewGuid().ToString("N").Substring(0, 12);
            File.WriteAllText(Path.Combine(Directory, "package.json"), "{\"name\":\"tarball\"}\n");
        }

        public string Directory { get; }

        public string Repository { get; }

        /// <summary>A Dockerfile whose image is unique to this project (a RUN step writes a marker, and optionally random bytes).</summary>
        public string Dockerfile(int randomBytes = 0) =>
            "FROM " + RealDocker.BaseImage + "\n"
            + "RUN echo " + Repository.Replace('/', '-') + " > /marker"
            + (randomBytes > 0 ? " && head -c " + randomBytes + " /dev/urandom > /blob" : string.Empty) + "\n";

        public CacheOptions Options(string provider, Func<string, string?> environment, Action<RawOptions>? configure = null, int randomBytes = 0)
        {
            var raw = new RawOptions
            {
                ProjectDirectory = Directory,
                ProjectName = "tarball",
                IntermediateDirectory = Path.Combine(Directory, "obj", "ecrcache"),
                ["DockerfileInline"] = Dockerfile(randomBytes),
                ["Repository"] = Repository,
                ["Provider"] = provider,
                ["DockerPath"] = RealDocker.Executable,
                Environment = environment,
            };
            raw.CacheOn.Add(new RawItem("package.json"));
            configure?.Invoke(raw);
            return OptionsParser.Parse(raw, new CapturingBuildLog());
        }

        /// <summary>Forgets the obj/ folder (the stamp) so a run behaves like another machine's.</summary>
        public void ForgetStamp()
        {
            var obj = Path.Combine(Directory, "obj");
            if (System.IO.Directory.Exists(obj))
            {
                System.IO.Directory.Delete(obj, recursive: true);
            }
        }

        public void Dispose() => RealDocker.RemoveRepository(Repository);
    }
}
