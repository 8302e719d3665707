using Xunit;

namespace AotKvs.Tests.Support;

/// <summary>
/// The heavy runs (faults, soak): one at a time and after the rest, so neither they nor the
/// timing checks of other tests disturb each other.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FaultsCollection
{
    public const string Name = "faults";
}
