using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptGen.TorchSharp.Tests;

/// <summary>libtorch loads in the test output (patched there on old libstdc++) and computes.</summary>
public sealed class LoadingTests
{
    [Fact]
    public void TorchLoadsAndComputes()
    {
        using Tensor a = torch.arange(1, 5, dtype: ScalarType.Float32);
        using Tensor b = a.mul(a).sum();
        Assert.Equal(30f, b.item<float>());
    }
}
