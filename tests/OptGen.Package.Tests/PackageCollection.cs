using Xunit;

namespace OptGen.Package.Tests;

/// <summary>The test classes that share one packed package and its consumer build (packing is the slow part).</summary>
[CollectionDefinition(Name)]
public sealed class PackageCollection : ICollectionFixture<PackageFixture>
{
    public const string Name = "Package";
}
