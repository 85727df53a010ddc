using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace OptGen.Runtime.Tests.Conformance;

/// <summary>
/// The conformance suite of SCHEMA.md: every case in tests/conformance/cases and, when OPTGEN_CONFORMANCE_DIR is
/// set, every case below that folder, each its own test named after the case. The optimizer is built from the
/// catalog (the attribute declarations users get) by <see cref="CatalogFactory"/>; grads[t − 1] is fed at step t,
/// lr_per_step[t − 1] (when present) replaces the learning rate of step t, and the case passes when
/// max |p − p_ref| ≤ rtol · max |p_ref| over all steps and elements, with any NaN or ∞ failing. Every case runs on
/// every available backend (<see cref="ConformanceBackends.Available"/>: CPU SIMD, ILGPU's CPU accelerator, and CUDA
/// when a device is present), the backend being the first argument of the test's name. One accelerator per backend
/// is shared by the whole class (<see cref="ConformanceAccelerators"/>).
/// </summary>
public sealed class ConformanceTests(ITestOutputHelper output, ConformanceAccelerators accelerators) : IClassFixture<ConformanceAccelerators>
{
    /// <summary>(backend, case name, file) for every backend and case file; the file is relative to the repository when it lies inside it.</summary>
    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        IReadOnlyList<string> backends = ConformanceBackends.Available();
        string root = ConformanceCase.RepositoryRoot();
        foreach (string file in ConformanceCase.Discover())
        {
            string name;
            try
            {
                using JsonDocument document = JsonDocument.Parse(File.ReadAllText(file));
                name = document.RootElement.TryGetProperty("name", out JsonElement n) ? n.GetString() ?? "(no name)" : "(no name)";
            }
            catch (JsonException)
            {
                name = "(unreadable)";
            }

            string relative = Path.GetRelativePath(root, file);
            string shown = relative.StartsWith("..", StringComparison.Ordinal) ? file : relative.Replace('\\', '/');
            foreach (string backend in backends)
            {
                if (backend == ConformanceBackends.CpuSimd || !IsCpuOnly(file))
                {
                    data.Add(backend, name, shown);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case(string backend, string name, string file)
    {
        string path = Path.IsPathRooted(file) ? file : Path.Combine(ConformanceCase.RepositoryRoot(), file);
        ConformanceCase c = ConformanceCase.Load(path);
        Assert.Equal(name, c.Name);
        ConformanceResult result;
        try
        {
            result = ConformanceRunner.Run(c, accelerators.For(backend));
        }
        catch (Exception error)
        {
            string failure = $"[{backend}] {name}: FAIL ({error.GetType().Name}: {error.Message})";
            output.WriteLine(failure);
            Console.WriteLine(failure);
            throw;
        }

        string line = $"[{backend}] {result.Line}";
        output.WriteLine(line);
        Console.WriteLine(line);
        Assert.True(result.Passed, line + (result.FirstFailure is null ? string.Empty : " — " + result.FirstFailure));
    }

    [Fact]
    public void EveryCaseRunsOnCpuSimdAndTheIlgpuCpuAccelerator()
    {
        Assert.Equal(ConformanceBackends.HasCuda ? 3 : 2, ConformanceBackends.Available().Count);
        Assert.Contains(ConformanceBackends.CpuSimd, ConformanceBackends.Available());
        Assert.Contains(ConformanceBackends.IlgpuCpu, ConformanceBackends.Available());
        int files = 0;
        foreach (string _ in ConformanceCase.Discover())
        {
            files++;
        }

        int cpuOnly = 0;
        foreach (string file in ConformanceCase.Discover())
        {
            cpuOnly += IsCpuOnly(file) ? 1 : 0;
        }

        Assert.Equal((files * ConformanceBackends.Available().Count) - (cpuOnly * (ConformanceBackends.Available().Count - 1)), Cases().Count);
        Assert.Null(accelerators.For(ConformanceBackends.CpuSimd));
        Assert.Throws<ArgumentException>(() => accelerators.For("opencl"));
    }

    /// <summary>Whether the case names a rule with reductions, which has no GPU kernel yet (<see cref="CatalogFactory.CpuOnlyNames"/>).</summary>
    private static bool IsCpuOnly(string file)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllText(file));
            return document.RootElement.TryGetProperty("optimizer", out JsonElement o) && o.ValueKind == JsonValueKind.String
                && CatalogFactory.CpuOnlyNames.Contains(o.GetString()!);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    [Fact]
    public void OwnCasesCoverTheWholeVocabulary()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string own = Path.Combine(ConformanceCase.RepositoryRoot(), "tests", "conformance", "cases");
        foreach (string file in Directory.EnumerateFiles(own, "*.json"))
        {
            seen.Add(ConformanceCase.Load(file).Optimizer);
        }

        Assert.Equal(new SortedSet<string>(CatalogFactory.Names, StringComparer.Ordinal), new SortedSet<string>(seen, StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("Adam", """{"lr": 0.001, "betas": [0.9, 0.999], "epsilon": 1e-8}""", "'epsilon'")]
    [InlineData("Adamw", """{"lr": 0.001}""", "Unknown optimizer 'Adamw'")]
    [InlineData("SGD", """{"momentum": 0.9}""", "'lr' is required")]
    [InlineData("SGD", """{"lr": 0.1, "nesterov": true}""", "Nesterov")]
    [InlineData("Adam", """{"betas": [0.9]}""", "two numbers")]
    [InlineData("RMSprop", """{"centered": 1}""", "true or false")]
    [InlineData("adam_min_t", """{"Ng": 10, "Ns": 1000, "eta": 0.001}""", "'eps' is required")]
    [InlineData("classic_momentum", """{"N": 0.5, "eta": 0.01}""", "length >= 1")]
    public void UnknownNamesKeysAndBadValuesFail(string optimizer, string json, string message)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        var hyperparameters = new Dictionary<string, JsonElement>();
        foreach (JsonProperty property in document.RootElement.EnumerateObject())
        {
            hyperparameters.Add(property.Name, property.Value.Clone());
        }

        ArgumentException error = Assert.ThrowsAny<ArgumentException>(() => CatalogFactory.Describe(optimizer, hyperparameters));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheCriterionCatchesNaNAndLargeErrors()
    {
        float[] reference = [1f, -2f, 0.5f];
        static bool Passes(float[] expected, float[] actual)
        {
            var errors = new ErrorAccumulator();
            errors.Add(expected, actual, 1);
            return errors.Passed(5e-6);
        }

        Assert.True(Passes(reference, [1f, -2f, 0.5f]));
        Assert.False(Passes(reference, [1f, float.NaN, 0.5f]));
        Assert.False(Passes(reference, [1f, float.PositiveInfinity, 0.5f]));
        Assert.False(Passes(reference, [1f, -2f + 1e-4f, 0.5f]));
        Assert.True(Passes(reference, [1f, -2.0000076f, 0.5f]));
    }
}
