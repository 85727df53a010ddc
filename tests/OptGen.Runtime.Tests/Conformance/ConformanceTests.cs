using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace OptGen.Runtime.Tests.Conformance;

/// <summary>
/// The conformance suite of SCHEMA.md: every case in tests/conformance/cases and, when OPTGEN_CONFORMANCE_DIR is
/// set, every case below that folder, each its own test named after the case. The optimizer is built from the
/// catalog (the attribute declarations users get) by <see cref="CatalogFactory"/>; grads[t − 1] is fed at step t,
/// lr_per_step[t − 1] (when present) replaces the learning rate of step t, and the case passes when
/// max |p − p_ref| ≤ rtol · max |p_ref| over all steps and elements, with any NaN or ∞ failing.
/// </summary>
public sealed class ConformanceTests(ITestOutputHelper output)
{
    /// <summary>(case name, file) for every case file; the file is relative to the repository when it lies inside it.</summary>
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
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
            data.Add(name, relative.StartsWith("..", StringComparison.Ordinal) ? file : relative.Replace('\\', '/'));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case(string name, string file)
    {
        string path = Path.IsPathRooted(file) ? file : Path.Combine(ConformanceCase.RepositoryRoot(), file);
        ConformanceCase c = ConformanceCase.Load(path);
        Assert.Equal(name, c.Name);
        ConformanceResult result;
        try
        {
            result = ConformanceRunner.Run(c);
        }
        catch (Exception error)
        {
            string failure = $"{name}: FAIL ({error.GetType().Name}: {error.Message})";
            output.WriteLine(failure);
            Console.WriteLine(failure);
            throw;
        }

        string line = result.Line;
        output.WriteLine(line);
        Console.WriteLine(line);
        Assert.True(result.Passed, line + (result.FirstFailure is null ? string.Empty : " — " + result.FirstFailure));
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
