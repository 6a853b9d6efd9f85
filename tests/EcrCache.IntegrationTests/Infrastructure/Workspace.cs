using System.Text.Json;
using System.Text.RegularExpressions;

namespace EcrCache.IntegrationTests.Infrastructure;

/// <summary>
/// A private copy of one testassets/ folder, made consumable like a user's repository would: a global.json that
/// pins the packed EcrCache.Sdk through msbuild-sdks, empty Directory.Build.props/.targets and
/// Directory.Packages.props (so nothing of this repository's build leaks in), a private DOCKER_CONFIG folder, and
/// the NuGet.config of the work root above it. Runs `dotnet build` on it as a child process.
/// </summary>
public sealed class Workspace
{
    public static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(5);

    private Workspace(string root, string projectDirectory, string projectFile, string repository)
    {
        Root = root;
        ProjectDirectory = projectDirectory;
        ProjectFile = projectFile;
        Repository = repository;
        DockerConfigDirectory = Path.Combine(root, "docker-config");
        Directory.CreateDirectory(DockerConfigDirectory);
    }

    /// <summary>The test's folder (holds the project copy, docker-config/, logs, sockets...).</summary>
    public string Root { get; }

    public string ProjectDirectory { get; }

    public string ProjectFile { get; }

    /// <summary>The unique image repository of this workspace (passed as EcrCacheRepository).</summary>
    public string Repository { get; set; }

    /// <summary>Used as DOCKER_CONFIG for every build (empty unless a test writes a config.json).</summary>
    public string DockerConfigDirectory { get; }

    /// <summary>Extra variables (value) or removals (null) for every child of this workspace.</summary>
    public Dictionary<string, string?> Environment { get; } = new(StringComparer.Ordinal);

    public string IntermediateDirectory => Path.Combine(ProjectDirectory, "obj", "ecrcache");

    public string EnvFilePath => Path.Combine(IntermediateDirectory, "image.env");

    public string StampPath => Path.Combine(IntermediateDirectory, "ensured.json");

    public string KeyPath => Path.Combine(IntermediateDirectory, "key.txt");

    public string KeyManifestPath => Path.Combine(IntermediateDirectory, "key-manifest.json");

    public static Workspace Create(string root, string asset, string repository, string? projectFileName = null)
    {
        var env = TestEnvironment.Current;
        var source = Path.Combine(env.RepoRoot, "testassets", asset);
        if (!Directory.Exists(source))
        {
            throw new DirectoryNotFoundException("No test asset " + source);
        }

        var projectDir = Path.Combine(root, asset);
        CopyDirectory(source, projectDir);
        WriteIsolationFiles(projectDir, env.SdkVersion);
        var project = projectFileName != null
            ? Path.Combine(projectDir, projectFileName)
            : Directory.EnumerateFiles(projectDir, "*.*proj").Single();
        return new Workspace(root, projectDir, project, repository);
    }

    public static void WriteIsolationFiles(string directory, string sdkVersion)
    {
        File.WriteAllText(
            Path.Combine(directory, "global.json"),
            "{\"sdk\":{\"version\":\"10.0.100\",\"rollForward\":\"latestFeature\"},\"msbuild-sdks\":{\"EcrCache.Sdk\":\"" + sdkVersion + "\"}}\n");
        foreach (var name in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
        {
            var path = Path.Combine(directory, name);
            if (!File.Exists(path))
            {
                File.WriteAllText(path, "<Project />\n");
            }
        }
    }

    /// <summary>Arguments every EnsureCachedImage run gets: the docker client, the base image, the unique repository.</summary>
    public IEnumerable<string> DefaultProperties()
    {
        var env = TestEnvironment.Current;
        yield return "-p:EcrCacheDockerPath=" + env.Docker;
        yield return "-p:BaseImage=" + env.BaseImage;
        yield return "-p:EcrCacheRepository=" + Repository;
    }

    /// <summary>-p: properties for the registry provider against <paramref name="registry"/>.</summary>
    public static string[] RegistryProvider(string registry) =>
        new[] { "-p:EcrCacheProvider=registry", "-p:EcrCacheRegistry=" + registry };

    /// <summary>
    /// `dotnet build PROJECT [-t:TARGET] -nodeReuse:false -v:VERBOSITY [defaults] ARGS`. The target defaults to
    /// EnsureCachedImage; pass target null for a plain `dotnet build`.
    /// </summary>
    public BuildResult Build(IEnumerable<string>? args = null, string? target = "EnsureCachedImage", string? verbosity = "n", IDictionary<string, string?>? environment = null, bool defaults = true)
    {
        using var child = StartBuild(args, target, verbosity, environment, defaults);
        var result = child.WaitForExit(BuildTimeout);
        return new BuildResult(result, this);
    }

    public BuildResult Build(params string[] args) => Build(args, "EnsureCachedImage");

    public ChildProcess StartBuild(IEnumerable<string>? args = null, string? target = "EnsureCachedImage", string? verbosity = "n", IDictionary<string, string?>? environment = null, bool defaults = true) =>
        StartDotnet(BuildArguments(args, target, verbosity, defaults), environment);

    /// <summary>
    /// <see cref="StartBuild"/> as if on another machine: in its own UTS namespace (unshare -u, which needs root)
    /// with the host name <paramref name="hostname"/>, so its leases name that host and the same-host /proc check
    /// does not apply to it. Null when this machine cannot do that.
    /// </summary>
    public ChildProcess? StartBuildOnHost(string hostname, IEnumerable<string>? args = null, IDictionary<string, string?>? environment = null)
    {
        var probe = ChildProcess.Run("unshare", new[] { "-u", "hostname", hostname }, ProjectDirectory, ChildEnvironment(environment), TimeSpan.FromSeconds(10));
        if (probe.ExitCode != 0)
        {
            return null;
        }

        // sh sets the name inside the namespace, then becomes dotnet (same pid, so signals reach the build).
        var arguments = new List<string> { "-u", "sh", "-c", "hostname \"$0\" && exec dotnet \"$@\"", hostname };
        arguments.AddRange(BuildArguments(args, "EnsureCachedImage", "n", defaults: true));
        return ChildProcess.Start("unshare", arguments, ProjectDirectory, ChildEnvironment(environment));
    }

    private List<string> BuildArguments(IEnumerable<string>? args, string? target, string? verbosity, bool defaults)
    {
        var arguments = new List<string> { "build", ProjectFile };
        if (target != null)
        {
            arguments.Add("-t:" + target);
        }

        arguments.Add("-nodeReuse:false");
        arguments.Add("--disable-build-servers");
        if (verbosity != null)
        {
            // null: dotnet build's own default (minimal), what a user sees without -v.
            arguments.Add("-v:" + verbosity);
        }

        if (defaults)
        {
            arguments.AddRange(DefaultProperties());
        }

        if (args != null)
        {
            arguments.AddRange(args);
        }

        return arguments;
    }

    /// <summary>
    /// A stand-in for buildkite-agent (no real agent runs here) that hangs like the real one retrying an unreachable
    /// Buildkite API, with a child; it writes both pids. Returns the PATH that puts it first.
    /// </summary>
    public (string Path, string AgentPidFile, string ChildPidFile) WriteHangingBuildkiteAgent()
    {
        var bin = System.IO.Path.Combine(Root, "fake-bin");
        Directory.CreateDirectory(bin);
        var agentPidFile = System.IO.Path.Combine(Root, "agent.pid");
        var childPidFile = System.IO.Path.Combine(Root, "agent-child.pid");
        var script = System.IO.Path.Combine(bin, "buildkite-agent");
        File.WriteAllText(script, $"#!/bin/sh\n# Fake buildkite-agent for EcrCache integration tests: hangs, with a child.\nsleep 300 &\necho $! > '{childPidFile}'\necho $$ > '{agentPidFile}'\nwait\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return (bin + ":" + (System.Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin"), agentPidFile, childPidFile);
    }

    /// <summary>Any `dotnet` command in the project folder with this workspace's environment.</summary>
    public CommandResult Dotnet(IEnumerable<string> arguments, IDictionary<string, string?>? environment = null)
    {
        using var child = StartDotnet(arguments, environment);
        return child.WaitForExit(BuildTimeout);
    }

    public Dictionary<string, string> ChildEnvironment(IDictionary<string, string?>? extra = null)
    {
        var env = TestEnvironment.Current.ChildEnvironment();
        env["DOCKER_CONFIG"] = DockerConfigDirectory;
        foreach (var source in new[] { Environment, extra })
        {
            if (source == null)
            {
                continue;
            }

            foreach (var pair in source)
            {
                if (pair.Value == null)
                {
                    env.Remove(pair.Key);
                }
                else
                {
                    env[pair.Key] = pair.Value;
                }
            }
        }

        return env;
    }

    /// <summary>Writes $DOCKER_CONFIG/config.json with basic-auth credentials for <paramref name="registry"/>.</summary>
    public void WriteDockerAuth(string registry, string user, string password)
    {
        var auth = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(user + ":" + password));
        var json = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["auths"] = new Dictionary<string, object> { [registry] = new Dictionary<string, string> { ["auth"] = auth } },
        });
        File.WriteAllText(Path.Combine(DockerConfigDirectory, "config.json"), json);
    }

    public string ReadFile(string relativePath) => File.ReadAllText(Path.Combine(ProjectDirectory, relativePath));

    public void WriteFile(string relativePath, string content) => File.WriteAllText(Path.Combine(ProjectDirectory, relativePath), content);

    private ChildProcess StartDotnet(IEnumerable<string> arguments, IDictionary<string, string?>? environment) =>
        ChildProcess.Start("dotnet", arguments, ProjectDirectory, ChildEnvironment(environment));

    private static void CopyDirectory(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.EnumerateFiles(source))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }

        foreach (var dir in Directory.EnumerateDirectories(source))
        {
            var name = Path.GetFileName(dir);
            if (name is "obj" or "bin")
            {
                continue;
            }

            CopyDirectory(dir, Path.Combine(target, name));
        }
    }
}

/// <summary>A finished `dotnet build` plus what it left behind, parsed.</summary>
public sealed class BuildResult
{
    private static readonly Regex SummaryLine = new(@"EcrCache: (\S+) \(([a-z-]+)\) in ", RegexOptions.CultureInvariant);

    public BuildResult(CommandResult command, Workspace workspace)
    {
        Command = command;
        Workspace = workspace;
        var matches = SummaryLine.Matches(command.Output);
        if (matches.Count > 0)
        {
            Reference = matches[^1].Groups[1].Value;
            Result = matches[^1].Groups[2].Value;
        }

        if (File.Exists(workspace.EnvFilePath))
        {
            EnvFile = Infrastructure.EnvFile.Read(workspace.EnvFilePath);
        }

        StampExists = File.Exists(workspace.StampPath);
    }

    public CommandResult Command { get; }

    public Workspace Workspace { get; }

    public int ExitCode => Command.ExitCode;

    public string Output => Command.Output;

    /// <summary>image:tag from the high-importance `EcrCache: REF (RESULT) in N s` line, or null.</summary>
    public string? Reference { get; }

    /// <summary>built, hit-local, hit-pulled or hit-not-pulled, or null.</summary>
    public string? Result { get; }

    public string Image => Reference![..Reference!.LastIndexOf(':')];

    public string Tag => Reference![(Reference!.LastIndexOf(':') + 1)..];

    /// <summary>The env file as it was right after the build (null when absent).</summary>
    public Dictionary<string, string>? EnvFile { get; }

    public bool StampExists { get; }

    public string Describe() => Command.Describe();

    public bool HasError(string code) => Regex.IsMatch(Output, @"error " + code + @"\b");

    public bool HasWarning(string code) => Regex.IsMatch(Output, @"warning " + code + @"\b");

    public BuildResult AssertSucceeded()
    {
        Assert.IsFalse(Command.TimedOut, "the build timed out" + Describe());
        Assert.AreEqual(0, ExitCode, "the build failed" + Describe());
        return this;
    }

    /// <summary>Asserts success and the given EcrCache result; returns the image reference.</summary>
    public string AssertResult(string expected, string exportVariable = "BUILDKITE_PLUGIN_DOCKER_IMAGE")
    {
        AssertSucceeded();
        Assert.IsNotNull(Reference, "no `EcrCache: <ref> (<result>)` line in the output" + Describe());
        Assert.AreEqual(expected, Result, "unexpected EcrCache result" + Describe());
        Assert.IsNotNull(EnvFile, "the env file " + Workspace.EnvFilePath + " was not written" + Describe());
        Assert.AreEqual(Reference, EnvFile!.GetValueOrDefault(exportVariable), "the env file's " + exportVariable + " and the console disagree" + Describe());
        return Reference!;
    }

    /// <summary>Asserts a failed build (non-zero exit) that logged `error CODE`, and that no stamp was written.</summary>
    public BuildResult AssertFailedWith(string code)
    {
        Assert.IsFalse(Command.TimedOut, "the build timed out" + Describe());
        Assert.AreNotEqual(0, ExitCode, "the build should have failed with " + code + Describe());
        Assert.IsTrue(HasError(code), "expected `error " + code + "` in the output" + Describe());
        Assert.IsFalse(StampExists, "a failed build must not write the ensured.json stamp" + Describe());
        return this;
    }
}
