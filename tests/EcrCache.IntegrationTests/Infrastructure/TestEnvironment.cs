using System.Text.RegularExpressions;

namespace EcrCache.IntegrationTests.Infrastructure;

/// <summary>
/// Everything the integration tests share, set up once per run by <see cref="AssemblySetup"/>:
/// the services of build/start-services.sh, the packed EcrCache.Sdk nupkg, and a work root under /tmp with a
/// NuGet.config (local feed + nuget.org) and a private NUGET_PACKAGES folder.
/// </summary>
public sealed class TestEnvironment
{
    public const string ServicesEnvFile = "/tmp/ecrcache-services/services.env";
    public const string PackageId = "EcrCache.Sdk";

    private static readonly string[] ServiceVariables =
    {
        "ECRCACHE_TEST_DOCKER", "ECRCACHE_TEST_REGISTRY", "ECRCACHE_TEST_AUTH_REGISTRY", "ECRCACHE_TEST_AUTH_USER",
        "ECRCACHE_TEST_AUTH_PASSWORD", "ECRCACHE_TEST_BASE_IMAGE", "ECRCACHE_TEST_REGISTRY_LOG",
    };

    private TestEnvironment()
    {
    }

    /// <summary>Set when the run cannot happen at all (no services): every test is then inconclusive.</summary>
    public static string? SkipReason { get; private set; }

    private static TestEnvironment? _current;

    public static TestEnvironment Current => _current ?? throw new InvalidOperationException("The integration test environment was not initialised (AssemblyInitialize failed?).");

    public string Docker { get; private set; } = "";

    /// <summary>host:port of the open (no auth) registry.</summary>
    public string Registry { get; private set; } = "";

    /// <summary>host:port of the htpasswd registry.</summary>
    public string AuthRegistry { get; private set; } = "";

    public string AuthUser { get; private set; } = "";

    public string AuthPassword { get; private set; } = "";

    public string BaseImage { get; private set; } = "";

    /// <summary>Access log of the open registry (may be empty when unknown).</summary>
    public string RegistryLog { get; private set; } = "";

    /// <summary>
    /// http://127.0.0.1:port of moto_server (the AWS emulator for the ECR provider's control plane), or empty when
    /// services.env does not name one: only the ECR tests need it, and they are inconclusive without it.
    /// </summary>
    public string MotoEndpoint { get; private set; } = "";

    public string RepoRoot { get; private set; } = "";

    public string PackagesDirectory { get; private set; } = "";

    public string PackagePath { get; private set; } = "";

    public string SdkVersion { get; private set; } = "";

    /// <summary>Per-run folder under /tmp: NuGet.config, nuget-packages/ and one folder per test.</summary>
    public string WorkRoot { get; private set; } = "";

    public string NuGetPackages { get; private set; } = "";

    /// <summary>The variables of the test process that every child starts from (see <see cref="ChildEnvironment"/>).</summary>
    private Dictionary<string, string> BaseEnvironment { get; set; } = new();

    public static void Initialize(Action<string> log)
    {
        var services = ReadServices();
        var missing = ServiceVariables.Where(v => string.IsNullOrEmpty(services.GetValueOrDefault(v))).ToList();
        if (missing.Count > 0)
        {
            SkipReason = "The EcrCache test services are not configured (" + string.Join(", ", missing) + " not set in the environment nor in "
                + ServicesEnvFile + "). Run `bash build/start-services.sh` (as root) first, or run the whole suite with `bash build/test.sh`.";
            log(SkipReason);
            return;
        }

        var env = new TestEnvironment
        {
            Docker = services["ECRCACHE_TEST_DOCKER"],
            Registry = services["ECRCACHE_TEST_REGISTRY"],
            AuthRegistry = services["ECRCACHE_TEST_AUTH_REGISTRY"],
            AuthUser = services["ECRCACHE_TEST_AUTH_USER"],
            AuthPassword = services["ECRCACHE_TEST_AUTH_PASSWORD"],
            BaseImage = services["ECRCACHE_TEST_BASE_IMAGE"],
            RegistryLog = services.GetValueOrDefault("ECRCACHE_TEST_REGISTRY_LOG") ?? "",
            MotoEndpoint = services.GetValueOrDefault("ECRCACHE_TEST_MOTO_ENDPOINT") ?? "",
        };
        env.BaseEnvironment = BuildBaseEnvironment();
        env.RepoRoot = FindRepoRoot();
        env.FindOrPackPackage(log);
        env.CreateWorkRoot(log);
        env.WarmUp(log);
        _current = env;
    }

    public static void Cleanup()
    {
        var env = _current;
        if (env == null)
        {
            return;
        }

        // The package cache is only for this run; test folders of failed tests are kept for inspection.
        TryDeleteDirectory(env.NuGetPackages);
        try
        {
            if (Directory.Exists(env.WorkRoot) && !Directory.EnumerateFileSystemEntries(env.WorkRoot).Any(e => Path.GetFileName(e).StartsWith("t-", StringComparison.Ordinal)))
            {
                TryDeleteDirectory(env.WorkRoot);
            }
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// The environment of a `dotnet`/`docker` child: the test process's variables minus anything that would leak
    /// into or steer the build (MSBuild/test-host variables from `dotnet test`, BUILDKITE_*, DOCKER_CONFIG, the
    /// sample's inputs), plus no node reuse, no MSBuild server, the private NUGET_PACKAGES.
    /// </summary>
    public Dictionary<string, string> ChildEnvironment()
    {
        var env = new Dictionary<string, string>(BaseEnvironment, StringComparer.Ordinal)
        {
            ["NUGET_PACKAGES"] = NuGetPackages,
        };
        return env;
    }

    public static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
        {
        }
    }

    private static Dictionary<string, string> BuildBaseEnvironment()
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            var name = (string)entry.Key;
            if (name.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("BUILDKITE", StringComparison.Ordinal)
                || name.StartsWith("VSTEST", StringComparison.Ordinal)
                || name.StartsWith("TESTINGPLATFORM", StringComparison.Ordinal)
                || name is "DOCKER_CONFIG" or "DOCKER_BUILDKIT" or "NUGET_PACKAGES" or "SAMPLE_FLAVOUR" or "NPM_TOKEN"
                    or "DOTNET_HOST_PATH" or "MSBuildExtensionsPath" or "MSBuildSDKsPath" or "MSBuildLoadMicrosoftTargetsReadOnly")
            {
                continue;
            }

            env[name] = (string?)entry.Value ?? "";
        }

        env["MSBUILDDISABLENODEREUSE"] = "1";
        env["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        env["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        env["DOTNET_NOLOGO"] = "1";
        env["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        env["DOTNET_CLI_UI_LANGUAGE"] = "en";
        return env;
    }

    private static Dictionary<string, string> ReadServices()
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var file = Environment.GetEnvironmentVariable("ECRCACHE_SERVICES_ENV") is { Length: > 0 } f ? f : ServicesEnvFile;
        if (File.Exists(file))
        {
            foreach (var raw in File.ReadAllLines(file))
            {
                var m = Regex.Match(raw.Trim(), "^(?:export\\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$");
                if (m.Success)
                {
                    values[m.Groups[1].Value] = EnvFile.Unquote(m.Groups[2].Value);
                }
            }
        }

        // Variables already in the environment (build/test.sh sources the file) win.
        foreach (var name in ServiceVariables.Append("ECRCACHE_TEST_AUTH_REGISTRY_LOG").Append("ECRCACHE_TEST_MOTO_ENDPOINT"))
        {
            var value = Environment.GetEnvironmentVariable(name);
            if (!string.IsNullOrEmpty(value))
            {
                values[name] = value;
            }
        }

        return values;
    }

    private static string FindRepoRoot()
    {
        var fromEnv = Environment.GetEnvironmentVariable("ECRCACHE_REPO_ROOT");
        if (!string.IsNullOrEmpty(fromEnv) && File.Exists(Path.Combine(fromEnv, "EcrCache.sln")))
        {
            return Path.GetFullPath(fromEnv);
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EcrCache.sln")) && Directory.Exists(Path.Combine(dir.FullName, "testassets")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Cannot find the repository root (a folder with EcrCache.sln and testassets/) above " + AppContext.BaseDirectory + "; set ECRCACHE_REPO_ROOT.");
    }

    private void FindOrPackPackage(Action<string> log)
    {
        var fromEnv = Environment.GetEnvironmentVariable("ECRCACHE_TEST_PACKAGES");
        var dir = !string.IsNullOrEmpty(fromEnv) ? Path.GetFullPath(fromEnv) : Path.Combine(RepoRoot, "artifacts", "packages");
        var package = FindPackage(dir);
        if (package == null)
        {
            log($"No {PackageId} package in {dir}; packing it (dotnet pack src/EcrCache.Sdk/EcrCache.Sdk.csproj -c Release -o {dir}).");
            Directory.CreateDirectory(dir);
            var result = ChildProcess.Run(
                "dotnet",
                new[] { "pack", Path.Combine(RepoRoot, "src", "EcrCache.Sdk", "EcrCache.Sdk.csproj"), "-c", "Release", "-o", dir, "-nodeReuse:false", "--disable-build-servers" },
                RepoRoot,
                BaseEnvironment,
                TimeSpan.FromMinutes(10));
            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException("dotnet pack of the SDK failed." + result.Describe());
            }

            package = FindPackage(dir) ?? throw new InvalidOperationException("dotnet pack produced no " + PackageId + " package in " + dir + result.Describe());
        }

        PackagesDirectory = dir;
        PackagePath = package;
        var name = Path.GetFileName(package);
        SdkVersion = name.Substring(PackageId.Length + 1, name.Length - PackageId.Length - 1 - ".nupkg".Length);
        log($"{PackageId} {SdkVersion} from {package}");
    }

    private static string? FindPackage(string dir)
    {
        if (!Directory.Exists(dir))
        {
            return null;
        }

        // EcrCache.Sdk.<version>.nupkg; the newest one when several versions were packed.
        return Directory.EnumerateFiles(dir, PackageId + ".*.nupkg")
            .Where(f => Regex.IsMatch(Path.GetFileName(f), "^" + Regex.Escape(PackageId) + "\\.[0-9]+\\.[0-9]+\\.[0-9]+([-+][0-9A-Za-z.+-]*)?\\.nupkg$")
                        && !f.EndsWith(".symbols.nupkg", StringComparison.OrdinalIgnoreCase))
            .OrderByDescending(File.GetLastWriteTimeUtc)
            .FirstOrDefault();
    }

    private void CreateWorkRoot(Action<string> log)
    {
        var parent = Path.Combine(Path.GetTempPath(), "ecrcache-it");
        Directory.CreateDirectory(parent);

        // Best effort: remove the leftovers of runs older than a day.
        foreach (var old in Directory.EnumerateDirectories(parent, "run-*"))
        {
            if (Directory.GetLastWriteTimeUtc(old) < DateTime.UtcNow.AddDays(-1))
            {
                TryDeleteDirectory(old);
            }
        }

        WorkRoot = Path.Combine(parent, "run-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N").Substring(0, 6));
        Directory.CreateDirectory(WorkRoot);

        // Private package folder: a re-packed nupkg with the same version is never served stale from a global cache.
        NuGetPackages = Path.Combine(WorkRoot, "nuget-packages");
        Directory.CreateDirectory(NuGetPackages);
        TryDeleteDirectory(Path.Combine(NuGetPackages, PackageId.ToLowerInvariant()));

        // NuGet looks for NuGet.config from the project folder upwards, so this one applies to every test folder.
        File.WriteAllText(Path.Combine(WorkRoot, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <!-- Generated by EcrCache.IntegrationTests -->
            <configuration>
              <packageSources>
                <clear />
                <add key="ecrcache-local" value="{PackagesDirectory}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """);
        log("Integration test work root: " + WorkRoot);
    }

    /// <summary>
    /// Resolves the SDK once, serially, before tests run in parallel (fails the run early with a clear message when
    /// the package is broken).
    /// </summary>
    private void WarmUp(Action<string> log)
    {
        var dir = Path.Combine(WorkRoot, "warmup");
        Directory.CreateDirectory(dir);
        Workspace.WriteIsolationFiles(dir, SdkVersion);
        File.WriteAllText(Path.Combine(dir, "warmup.proj"), """
            <Project Sdk="EcrCache.Sdk">
              <Target Name="EcrCacheItWarmup">
                <Message Importance="high" Text="EcrCache.Sdk imported=$(EcrCacheSdkImported)" />
              </Target>
            </Project>
            """);
        var result = ChildProcess.Run("dotnet", new[] { "msbuild", "warmup.proj", "-t:EcrCacheItWarmup", "-nodeReuse:false" }, dir, ChildEnvironment(), TimeSpan.FromMinutes(5));
        if (result.ExitCode != 0 || !result.Output.Contains("EcrCache.Sdk imported=true", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Could not resolve {PackageId} {SdkVersion} from {PackagesDirectory} through global.json msbuild-sdks." + result.Describe());
        }

        log($"Resolved {PackageId} {SdkVersion} in {result.Elapsed.TotalSeconds:0.0} s.");
        TryDeleteDirectory(dir);
    }
}
