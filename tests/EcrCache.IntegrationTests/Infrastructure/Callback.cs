namespace EcrCache.IntegrationTests.Infrastructure;

/// <summary>Runs an action on dispose: a clean-up for <see cref="IntegrationTest.Track{T}"/> (e.g. deleting what a test made in moto).</summary>
public sealed class Callback : IDisposable
{
    private readonly Action _action;

    public Callback(Action action) => _action = action;

    public void Dispose() => _action();
}
