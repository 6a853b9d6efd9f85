namespace EcrCache.IntegrationTests.Infrastructure;

public static class Shell
{
    /// <summary>Runs `bash -c SCRIPT` and returns its stdout lines; fails the test when bash fails.</summary>
    public static string[] Bash(string script, IDictionary<string, string>? environment = null)
    {
        var env = TestEnvironment.Current.ChildEnvironment();
        if (environment != null)
        {
            foreach (var pair in environment)
            {
                env[pair.Key] = pair.Value;
            }
        }

        var result = ChildProcess.Run("bash", new[] { "-c", script }, TestEnvironment.Current.WorkRoot, env, TimeSpan.FromMinutes(1));
        Assert.AreEqual(0, result.ExitCode, "bash failed" + result.Describe());
        return result.Output.TrimEnd('\n').Split('\n');
    }

    public static string Sha256Hex(byte[] data) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(data)).ToLowerInvariant();

    public static string Sha256Hex(string text) => Sha256Hex(System.Text.Encoding.UTF8.GetBytes(text));
}
