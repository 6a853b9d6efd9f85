namespace EcrCache.IntegrationTests.Infrastructure;

/// <summary>Direct docker CLI calls the tests use to check what EcrCache did.</summary>
public static class DockerHelper
{
    private static TestEnvironment Env => TestEnvironment.Current;

    public static CommandResult Run(params string[] arguments) => Run(arguments, null);

    public static CommandResult Run(IEnumerable<string> arguments, IDictionary<string, string>? extraEnvironment)
    {
        var env = Env.ChildEnvironment();
        if (extraEnvironment != null)
        {
            foreach (var pair in extraEnvironment)
            {
                env[pair.Key] = pair.Value;
            }
        }

        return ChildProcess.Run(Env.Docker, arguments, Env.WorkRoot, env, TimeSpan.FromMinutes(3));
    }

    public static bool ImageExists(string reference) => Run("image", "inspect", "--format", "{{.Id}}", reference).ExitCode == 0;

    public static string? ImageId(string reference)
    {
        var result = Run("image", "inspect", "--format", "{{.Id}}", reference);
        return result.ExitCode == 0 ? result.Output.Trim() : null;
    }

    /// <summary>Every repo:tag in the local daemon whose repository is <paramref name="repository"/> or ends with /repository.</summary>
    public static List<string> TagsOf(string repository)
    {
        var result = Run("images", "--format", "{{.Repository}}:{{.Tag}}");
        Assert.AreEqual(0, result.ExitCode, "docker images failed" + result.Describe());
        return result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line =>
            {
                var colon = line.LastIndexOf(':');
                var repo = colon < 0 ? line : line.Substring(0, colon);
                return repo == repository || repo.EndsWith("/" + repository, StringComparison.Ordinal);
            })
            .Where(line => !line.EndsWith(":<none>", StringComparison.Ordinal))
            .ToList();
    }

    /// <summary>`docker run --rm IMAGE cat PATH`, trimmed stdout; fails the test when it fails.</summary>
    public static string Cat(string reference, string path)
    {
        var result = Run("run", "--rm", "--network", "none", reference, "cat", path);
        Assert.AreEqual(0, result.ExitCode, $"docker run {reference} cat {path} failed" + result.Describe());
        return result.Output.Trim();
    }

    private const string KeeperRepository = "ecrcache-it/keep";

    /// <summary>
    /// Untags the given references so the daemon no longer has them (best effort). With <paramref name="keepContent"/>
    /// the images themselves stay, under a keeper tag: tests building the same sample in parallel get the same image
    /// ID from BuildKit's cache, and deleting it while another test's build exports or tags it fails that build with
    /// "invalid image access". A test whose image is its own (a nonce in its inputs) and that needs the layers gone
    /// (a pull that must download them) passes false. The keeper tags go when the run ends.
    /// </summary>
    public static void RemoveImages(IEnumerable<string> references, bool keepContent = true)
    {
        var list = references.Distinct().ToList();
        if (list.Count == 0)
        {
            return;
        }

        if (keepContent)
        {
            foreach (var id in list.Select(ImageId).Where(id => id != null).Distinct())
            {
                Run("tag", id!, KeeperRepository + ":" + id!.Replace("sha256:", "", StringComparison.Ordinal).Substring(0, 16));
            }
        }

        Run(new[] { "rmi" }.Concat(list), null);
    }

    /// <summary>Removes the keeper tags (and so the images only they held): when no test runs any more.</summary>
    public static void RemoveKeptImages()
    {
        try
        {
            RemoveImages(TagsOf(KeeperRepository), keepContent: false);
        }
        catch (Exception)
        {
            // Best effort cleanup.
        }
    }

    public static void RemoveRepositoryImages(string repository, bool keepContent = true)
    {
        try
        {
            RemoveImages(TagsOf(repository), keepContent);
        }
        catch (Exception)
        {
            // Best effort cleanup.
        }
    }
}
