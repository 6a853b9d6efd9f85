using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using EcrCache.Http;
using EcrCache.Stores.Ecr;

namespace EcrCache.Stores.Tarballs.S3
{
    /// <summary>Turns AWS SDK failures into the s3 provider's coded diagnostics.</summary>
    internal static class S3Errors
    {
        public static bool IsNotFound(Exception ex) =>
            ex is AmazonS3Exception s3 && (s3.StatusCode == HttpStatusCode.NotFound || s3.ErrorCode == "NoSuchKey" || s3.ErrorCode == "NotFound");

        public static bool IsMissingBucket(Exception ex) => ex is AmazonS3Exception s3 && s3.ErrorCode == "NoSuchBucket";

        /// <summary>A coded exception for a failed call; <paramref name="operation"/> is the IAM action without "s3:".</summary>
        public static EcrCacheException Map(Exception ex, string operation, string resource, string region)
        {
            if (ex is EcrCacheException coded)
            {
                if (coded.Diagnostic.Code == Diagnostic.Create(DiagnosticIds.EcrCredentialsMissing, "").Code)
                {
                    // The shared credential chain (Stores/Ecr) words its error for ECR; say s3 here.
                    var detail = ex.InnerException != null ? DefaultAwsCredentialSource.FirstLine(ex.InnerException.Message) : coded.Diagnostic.Message;
                    return new EcrCacheException(Diagnostic.Create(DiagnosticIds.S3CredentialsMissing, detail), ex);
                }

                return coded;
            }

            if (ex.InnerException is EcrCacheException innerCoded)
            {
                return Map(innerCoded, operation, resource, region);
            }

            if (ex is AmazonS3Exception s3)
            {
                var bucket = resource.Split('/')[0];
                if (s3.ErrorCode == "NoSuchBucket")
                {
                    return new EcrCacheException(Diagnostic.Create(DiagnosticIds.S3BucketMissing, bucket, region), ex);
                }

                if (s3.StatusCode == HttpStatusCode.Forbidden || s3.ErrorCode == "AccessDenied")
                {
                    return new EcrCacheException(Diagnostic.Create(DiagnosticIds.S3AccessDenied, operation, resource, Describe(s3)), ex);
                }

                if (s3.StatusCode == 0 && IsNetwork(ex))
                {
                    return new EcrCacheException(Diagnostic.Create(DiagnosticIds.S3Unreachable, operation, resource, FirstLine(HttpMessages.Innermost(ex).Message)), ex);
                }

                return new EcrCacheException(Diagnostic.Create(DiagnosticIds.S3RequestFailed, operation, resource, (int)s3.StatusCode, s3.ErrorCode ?? "no code", FirstLine(s3.Message)), ex);
            }

            if (IsNetwork(ex))
            {
                return new EcrCacheException(Diagnostic.Create(DiagnosticIds.S3Unreachable, operation, resource, FirstLine(HttpMessages.Innermost(ex).Message)), ex);
            }

            if (ex is AmazonServiceException service)
            {
                return new EcrCacheException(Diagnostic.Create(DiagnosticIds.S3RequestFailed, operation, resource, (int)service.StatusCode, service.ErrorCode ?? "no code", FirstLine(service.Message)), ex);
            }

            return new EcrCacheException(Diagnostic.Create(DiagnosticIds.S3RequestFailed, operation, resource, 0, ex.GetType().Name, FirstLine(ex.Message)), ex);
        }

        private static bool IsNetwork(Exception ex)
        {
            for (var e = ex; e != null; e = e.InnerException)
            {
                if (e is HttpRequestException || e is SocketException || e is WebException || (e is AmazonClientException && e.Message.IndexOf("connect", StringComparison.OrdinalIgnoreCase) >= 0))
                {
                    return true;
                }
            }

            return false;
        }

        private static string Describe(AmazonS3Exception ex) => (ex.ErrorCode ?? ((int)ex.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture)) + ": " + FirstLine(ex.Message);

        private static string FirstLine(string? text)
        {
            var trimmed = (text ?? string.Empty).Trim();
            var newline = trimmed.IndexOf('\n');
            var line = newline < 0 ? trimmed : trimmed.Substring(0, newline).Trim();
            return line.TrimEnd('.');
        }
    }
}
