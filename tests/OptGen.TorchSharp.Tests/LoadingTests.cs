using System;
using System.IO;
using System.Linq;
using System.Reflection;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptGen.TorchSharp.Tests;

/// <summary>
/// libtorch loads in the test output and computes; where the output's libLibTorchSharp.so was patched
/// (tools/torchsharp/weaken_glibcxx.py, on a libstdc++ older than GCC 13), it differs from NuGet's copy in at most the
/// four bytes the patch owns (one versym entry, one vna_flags field), and NuGet's copy is untouched.
/// </summary>
public sealed class LoadingTests
{
    [Fact]
    public void TorchLoadsAndComputes()
    {
        using Tensor a = torch.arange(1, 5, dtype: ScalarType.Float32);
        using Tensor b = a.mul(a).sum();
        Assert.Equal(30f, b.item<float>());
    }

    [Fact]
    public void OnlyTheBuildOutputsCopyIsPatchedAndOnlyInTwoFields()
    {
        const string library = "runtimes/linux-x64/native/libLibTorchSharp.so";
        string root = typeof(LoadingTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "NuGetPackageRoot").Value!;
        Version version = typeof(torch).Assembly.GetName().Version!;
        byte[] original = File.ReadAllBytes(Path.Combine(root, "torchsharp", $"{version.Major}.{version.Minor}.{version.Build}", library));
        byte[] copy = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, library));
        Assert.Equal(original.Length, copy.Length);
        int[] changed = Enumerable.Range(0, copy.Length).Where(i => copy[i] != original[i]).ToArray();

        // Patched exactly when the system's libstdc++ lacks the version (on Linux; elsewhere nothing runs the patch).
        bool needed = OperatingSystem.IsLinux() && !SystemHasGlibcxx3432();
        Assert.Equal(needed, changed.Length > 0);
        Assert.True(changed.Select(i => i / 2).Distinct().Count() <= 2, $"The copy differs in bytes {string.Join(", ", changed)}: more than the two 16-bit fields the patch edits.");
    }

    private static bool SystemHasGlibcxx3432()
    {
        string[] candidates = ["/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6"];
        string? path = candidates.FirstOrDefault(File.Exists);
        return path is not null && File.ReadAllBytes(path).AsSpan().IndexOf("GLIBCXX_3.4.32\0"u8) >= 0;
    }
}
