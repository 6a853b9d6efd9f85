using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace EcrCache.TestSupport
{
    /// <summary>
    /// python3 with boto3 (moto's own dependency) against a moto_server: the tests set up and read back what moto holds
    /// with a client that is neither the product's nor the AWS SDK it uses. The child gets moto's fake keys and a
    /// default region, and none of the machine's AWS_* variables, config files or instance metadata.
    /// </summary>
    public static class Boto3
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

        /// <summary>
        /// The moto_server at <paramref name="endpoint"/> (ECRCACHE_TEST_MOTO_ENDPOINT of services.env) without a
        /// trailing '/'; the test is inconclusive when it is not set or nothing listens there.
        /// </summary>
        public static string RequireMoto(string? endpoint)
        {
            if (string.IsNullOrEmpty(endpoint))
            {
                Assert.Inconclusive("ECRCACHE_TEST_MOTO_ENDPOINT is not set (neither in the environment nor in services.env); run `bash build/start-services.sh`, which starts moto_server.");
            }

            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || !IsListening(uri.Host, uri.Port))
            {
                Assert.Inconclusive($"ECRCACHE_TEST_MOTO_ENDPOINT={endpoint}, but nothing listens there (a stale services.env?); run `bash build/start-services.sh`.");
            }

            return endpoint!.TrimEnd('/');
        }

        /// <summary>Whether something accepts a TCP connection on <paramref name="host"/>:<paramref name="port"/> within 3 s.</summary>
        public static bool IsListening(string host, int port)
        {
            try
            {
                using var client = new TcpClient();
                return client.ConnectAsync(host, port).Wait(TimeSpan.FromSeconds(3)) && client.Connected;
            }
            catch (Exception)
            {
                return false;
            }
        }

        /// <summary><c>python3 -c script arguments...</c>; its standard output. A failure fails the test (inconclusive without boto3).</summary>
        public static string Run(string script, params string[] arguments) => Run(script, arguments, failOnError: true);

        /// <summary>As <see cref="Run(string, string[])"/>; with <paramref name="failOnError"/> false (clean-ups) a failure is ignored.</summary>
        public static string Run(string script, IEnumerable<string> arguments, bool failOnError)
        {
            var info = new ProcessStartInfo("python3")
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = Path.GetTempPath(),
            };
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add(script);
            foreach (var argument in arguments)
            {
                info.ArgumentList.Add(argument);
            }

            foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("AWS_", StringComparison.Ordinal)).ToList())
            {
                info.Environment.Remove(name);
            }

            info.Environment["AWS_ACCESS_KEY_ID"] = "testing";
            info.Environment["AWS_SECRET_ACCESS_KEY"] = "testing";
            info.Environment["AWS_DEFAULT_REGION"] = "us-east-1";
            info.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
            info.Environment["AWS_CONFIG_FILE"] = "/dev/null";
            info.Environment["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null";
            info.Environment["PYTHONWARNINGS"] = "ignore";
            info.Environment["NO_PROXY"] = info.Environment["no_proxy"] = "127.0.0.1,localhost";

            using var process = Process.Start(info)!;
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(Timeout))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                if (failOnError)
                {
                    Assert.Fail($"python3 (boto3 against moto) did not finish within {Timeout.TotalSeconds:0} s");
                }

                return stdout.Result;
            }

            process.WaitForExit();
            if (failOnError && process.ExitCode != 0)
            {
                if (stderr.Result.Contains("No module named", StringComparison.Ordinal))
                {
                    Assert.Inconclusive("python3 has no boto3 (it comes with moto): " + stderr.Result);
                }

                Assert.Fail($"boto3 against moto failed (exit code {process.ExitCode}):\n{stderr.Result}\n--- stdout:\n{stdout.Result}");
            }

            return stdout.Result;
        }
    }
}
