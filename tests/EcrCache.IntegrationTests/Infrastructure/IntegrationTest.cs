using System.Text.RegularExpressions;

namespace EcrCache.IntegrationTests.Infrastructure;

/// <summary>Sets up the shared environment once per test run.</summary>
[TestClass]
public static class AssemblySetup
{
    [AssemblyInitialize]
    public static void Initialize(TestContext context)
    {
        TestEnvironment.Initialize(message => Console.WriteLine("[ecrcache-it] " + message));
    }

    [AssemblyCleanup]
    public static void Cleanup()
    {
        DockerHelper.RemoveKeptImages();
        TestEnvironment.Cleanup();
    }
}

/// <summary>
/// Base of every integration test class: skips (inconclusive) without services, hands out workspaces with unique
/// repositories, and afterwards removes the images of those repositories and (when the test passed) its folder.
/// </summary>
public abstract class IntegrationTest
{
    private readonly List<Workspace> _workspaces = new();
    private readonly HashSet<string> _repositories = new(StringComparer.Ordinal);
    private readonly List<IDisposable> _disposables = new();
    private string? _testRoot;

    public TestContext TestContext { get; set; } = null!;

    /// <summary>Every inherited AWS_* removed; moto's keys, the S3 endpoint override, a region, no instance metadata.</summary>
    protected static Dictionary<string, string?> S3Environment(string moto, Workspace ws)
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var name in TestEnvironment.Current.ChildEnvironment().Keys.Where(k => k.StartsWith("AWS_", StringComparison.Ordinal)))
        {
            environment[name] = null;
        }

        environment["AWS_ENDPOINT_URL_S3"] = moto;
        environment["AWS_ACCESS_KEY_ID"] = "testing";
        environment["AWS_SECRET_ACCESS_KEY"] = "testing";
        environment["AWS_REGION"] = "us-east-1";
        environment["AWS_EC2_METADATA_DISABLED"] = "true";
        environment["AWS_CONFIG_FILE"] = Path.Combine(ws.Root, "no-aws-config");
        environment["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(ws.Root, "no-aws-credentials");
        return environment;
    }

    /// <summary>A new S3 bucket in moto, emptied and deleted when the test ends.</summary>
    protected string CreateS3Bucket(string moto)
    {
        var bucket = "ecrcache-it-" + Guid.NewGuid().ToString("N").Substring(0, 12);
        Boto3.Run("import boto3, sys\nboto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1').create_bucket(Bucket=sys.argv[2])\n", moto, bucket);
        Track(new Callback(() => Boto3.Run(
            "import boto3, sys\ns3 = boto3.resource('s3', endpoint_url=sys.argv[1], region_name='us-east-1')\nb = s3.Bucket(sys.argv[2])\nb.objects.all().delete()\nb.delete()\n",
            new[] { moto, bucket },
            failOnError: false)));
        return bucket;
    }

    protected static TestEnvironment Env => TestEnvironment.Current;

    /// <summary>The folder of the current test (created on first use).</summary>
    protected string TestRoot
    {
        get
        {
            if (_testRoot == null)
            {
                var slug = Regex.Replace(TestContext.TestName?.ToLowerInvariant() ?? "test", "[^a-z0-9]+", "-").Trim('-');
                slug = slug.Length > 24 ? slug.Substring(0, 24).TrimEnd('-') : slug;
                _testRoot = Path.Combine(Env.WorkRoot, "t-" + slug + "-" + Guid.NewGuid().ToString("N").Substring(0, 6));
                Directory.CreateDirectory(_testRoot);
            }

            return _testRoot;
        }
    }

    [TestInitialize]
    public void IntegrationTestInitialize()
    {
        if (TestEnvironment.SkipReason != null)
        {
            Assert.Inconclusive(TestEnvironment.SkipReason);
        }
    }

    [TestCleanup]
    public void IntegrationTestCleanup()
    {
        foreach (var disposable in Enumerable.Reverse(_disposables))
        {
            try
            {
                disposable.Dispose();
            }
            catch (Exception)
            {
            }
        }

        if (TestEnvironment.SkipReason != null)
        {
            return;
        }

        foreach (var workspace in _workspaces)
        {
            _repositories.Add(workspace.Repository);
        }

        foreach (var repository in _repositories)
        {
            DockerHelper.RemoveRepositoryImages(repository);
        }

        if (_testRoot != null)
        {
            if (TestContext.CurrentTestOutcome == UnitTestOutcome.Passed)
            {
                TestEnvironment.TryDeleteDirectory(_testRoot);
            }
            else
            {
                TestContext.WriteLine("Test folder kept for inspection: " + _testRoot);
            }
        }
    }

    /// <summary>A new lower-case repository name, unique to this test: it/&lt;test&gt;-&lt;random&gt;.</summary>
    protected string NewRepository(string? hint = null)
    {
        var name = Regex.Replace((hint ?? TestContext.TestName ?? "test").ToLowerInvariant(), "[^a-z0-9]+", "-").Trim('-');
        name = name.Length > 30 ? name.Substring(0, 30).TrimEnd('-') : name;
        var repository = "it/" + name + "-" + Guid.NewGuid().ToString("N").Substring(0, 8);
        _repositories.Add(repository);
        return repository;
    }

    /// <summary>A copy of testassets/<paramref name="asset"/> in its own folder, with a fresh repository unless one is given.</summary>
    protected Workspace CreateWorkspace(string asset = "Sample", string? repository = null)
    {
        var folder = Path.Combine(TestRoot, "w" + _workspaces.Count);
        Directory.CreateDirectory(folder);
        var workspace = Workspace.Create(folder, asset, repository ?? NewRepository());
        _workspaces.Add(workspace);
        return workspace;
    }

    protected T Track<T>(T disposable)
        where T : IDisposable
    {
        _disposables.Add(disposable);
        return disposable;
    }

    protected void Log(string message) => TestContext.WriteLine(message);
}
