using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Xml.Linq;
using Xunit;

namespace OptGen.Package.Tests;

/// <summary>
/// The OptGen.TorchSharp package tier (<see cref="PackageFixture.TorchSharp"/>): the package holds only its own
/// assembly (no native library, patched or not) and depends on OptGen at the same version and on the unmodified
/// TorchSharp package; a TorchSharp project that references only it and libtorch-cpu, with Nullable enable and
/// warnings as errors, declares its own optimizer, wraps an nn.Linear, and steps it as the formulas say.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class TorchSharpPackageTests(PackageFixture fixture)
{
    [Fact]
    public void PackageHoldsOnlyItsAssemblyAndNoNativeLibrary()
    {
        TorchSharpConsumerResult result = fixture.TorchSharp;
        Assert.True(result.Pack?.Succeeded == true && File.Exists(result.PackagePath), $"dotnet pack src/TorchSharp failed:\n{result.Pack}");

        using ZipArchive package = ZipFile.OpenRead(result.PackagePath);
        string[] entries = package.Entries.Select(e => e.FullName).Order(StringComparer.Ordinal).ToArray();
        string listing = string.Join('\n', entries);
        Assert.Contains("lib/net10.0/OptGen.TorchSharp.dll", entries);
        Assert.Contains("README.md", entries);
        Assert.Equal(["lib/net10.0/OptGen.TorchSharp.dll"], entries.Where(e => e.EndsWith(".dll", StringComparison.Ordinal)));

        // No native library in either package: a patched libLibTorchSharp.so (tools/torchsharp) must never ship.
        using ZipArchive optgen = ZipFile.OpenRead(fixture.PackagePath);
        foreach (string entry in entries.Concat(optgen.Entries.Select(e => e.FullName)))
        {
            Assert.False(
                entry.StartsWith("runtimes/", StringComparison.Ordinal) || entry.EndsWith(".so", StringComparison.Ordinal) || entry.Contains("LibTorchSharp", StringComparison.OrdinalIgnoreCase),
                $"A package holds a native library: {entry}\n{listing}");
        }

        XElement metadata;
        using (Stream stream = package.Entries.Single(e => e.FullName == "OptGen.TorchSharp.nuspec").Open())
        {
            metadata = XDocument.Load(stream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        }

        Assert.Equal("OptGen.TorchSharp", metadata.Elements().Single(e => e.Name.LocalName == "id").Value);
        Dictionary<string, string> dependencies = metadata.Descendants().Where(e => e.Name.LocalName == "dependency")
            .ToDictionary(e => e.Attribute("id")!.Value, e => e.Attribute("version")!.Value);
        Assert.Equal(["OptGen", "TorchSharp"], dependencies.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(fixture.PackageVersion, dependencies["OptGen"]);
        Assert.Equal(fixture.TorchSharpPackageVersion, dependencies["TorchSharp"]);
    }

    [Fact]
    public void ConsumerOfThePackageTrainsAnNnLinearAsTheFormulasSay()
    {
        TorchSharpConsumerResult result = fixture.TorchSharp;
        Assert.True(result.Pack?.Succeeded == true, $"dotnet pack src/TorchSharp failed:\n{result.Pack}");
        Assert.True(result.Build?.Succeeded == true, $"The TorchSharp consumer did not build against the packages:\n{result.Build}");
        Assert.DoesNotMatch(@"(?m): warning [A-Z]+\d+", result.Build!.Output);
        string assets = File.ReadAllText(Path.Combine(result.ConsumerDirectory, "obj", "project.assets.json"));
        Assert.Contains($"\"OptGen.TorchSharp/{fixture.PackageVersion}\"", assets, StringComparison.Ordinal);
        Assert.Contains($"\"OptGen/{fixture.PackageVersion}\"", assets, StringComparison.Ordinal);
        if (OperatingSystem.IsLinux())
        {
            Assert.True(result.Patch?.Succeeded == true, $"weaken_glibcxx.py failed on the consumer's copy:\n{result.Patch}");
        }

        CommandResult run = result.Run!;
        Assert.True(run.Succeeded, $"The TorchSharp consumer failed:\n{run}");
        Dictionary<string, PackageTests.Trace> traces = PackageTests.Trace.Parse(string.Join('\n', run.Output.Split('\n').Where(l => !l.StartsWith("adoption ", StringComparison.Ordinal))));
        Assert.Equal(["Adam.bias", "Adam.weight", "DecayedMomentum.bias", "DecayedMomentum.weight"], traces.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(18, traces["Adam.weight"].Initial.Length); // nn.Linear(6, 3)

        // The declaration in TorchSharpConsumer/Program.cs and OptGen's Adam, restated from the formulas, on the
        // gradients autograd computed.
        foreach (string parameter in new[] { "weight", "bias" })
        {
            PackageTests.Check(traces["DecayedMomentum." + parameter], new DecayedMomentumReference(lr: 0.05, mu: 0.9, decay: 0.01));
            PackageTests.Check(traces["Adam." + parameter], new PackageTests.AdamReference(lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, decoupledDecay: 0));
        }
    }

    /// <summary>
    /// The five-line adoption snippet of README.md, docs/torchsharp.md and the package's readme (fenced <c>csharp fragment</c>, as it uses a
    /// <c>model</c> of the reader's) compiles in the consumer, against the packages, with <c>model</c> a TorchSharp
    /// module, and the optimizer it creates steps the module.
    /// </summary>
    [Fact]
    public void AdoptionSnippetsOfTheDocsCompileAndStep()
    {
        TorchSharpConsumerResult result = fixture.TorchSharp;
        Assert.True(result.Build?.Succeeded == true, $"The TorchSharp consumer, with the docs' adoption snippets, did not build:\n{result.Build}");
        Assert.Equal(PackageFixture.AdoptionPages, result.Snippets.Select(s => s[..s.LastIndexOf(':')]));
        Assert.True(result.Run?.Succeeded == true, $"The TorchSharp consumer failed:\n{result.Run}");
        string[] lines = result.Run!.Output.Split('\n', StringSplitOptions.TrimEntries).Where(l => l.StartsWith("adoption ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(result.Snippets.Select(s => $"adoption {s} stepped"), lines);
    }

    [Fact]
    public void OnlyTheConsumersCopyOfLibTorchSharpIsPatched()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // nothing is patched elsewhere
        }

        TorchSharpConsumerResult result = fixture.TorchSharp;
        Assert.True(result.Patch?.Succeeded == true, $"The consumer was not built and patched:\n{result.Build}\n{result.Patch}");
        string script = Path.Combine(fixture.RepositoryRoot, "tools", "torchsharp", "weaken_glibcxx.py");
        string copy = Path.Combine(result.ConsumerDirectory, "bin", "Release", "net10.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        string version = fixture.TorchSharpPackageVersion;
        string cached = Path.Combine(fixture.MachinePackageFolder!, "torchsharp", version, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

        // The package folder's copy (which the consumer's output may have been hard-linked to) is as NuGet extracted it.
        CommandResult original = DotNetCli.RunProgram("python3", result.ConsumerDirectory, TimeSpan.FromMinutes(1), script, "--check", cached);
        Assert.True(original.Succeeded && original.Output.Contains(": not patched", StringComparison.Ordinal), $"NuGet's copy was modified:\n{original}");

        // The consumer's copy was patched exactly where the system needs it (the patch says so when it is not needed).
        bool needed = !result.Patch!.Output.Contains("not needed", StringComparison.Ordinal);
        CommandResult output = DotNetCli.RunProgram("python3", result.ConsumerDirectory, TimeSpan.FromMinutes(1), script, "--check", copy);
        Assert.True(output.Succeeded, output.ToString());
        Assert.Equal(needed, output.Output.Contains("already patched", StringComparison.Ordinal));
    }

    /// <summary>b ← μb + g (b₀ = 0); p ← p(1 − ηλ) − ηb.</summary>
    private sealed class DecayedMomentumReference(double lr, double mu, double decay) : PackageTests.IReference
    {
        private double[] _b = [];

        public void Reset(int n) => _b = new double[n];

        public void Step(float[] p, float[] g, int t)
        {
            for (int i = 0; i < p.Length; i++)
            {
                _b[i] = (mu * _b[i]) + g[i];
                p[i] = (float)((p[i] * (1 - (lr * decay))) - (lr * _b[i]));
            }
        }
    }
}
