using System;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>
/// <see cref="Schedule.OneCycle"/> derives its starting and final values from its factors; when one is not finite
/// (maximum/divFactor overflows), the exception names the factor the caller passed. It named "start" or "end",
/// parameters of <see cref="Schedule.OneCycleThrough"/> that this overload does not have.
/// </summary>
public sealed class ScheduleFactorNamingTests
{
    [Theory]
    [InlineData(1.0, 1e-310, 1e4, "divFactor")]
    [InlineData(1e308, 0.1, 1e4, "divFactor")]
    [InlineData(1.0, 25, 1e-310, "finalDivFactor")]
    [InlineData(1e300, 1, 1e-10, "finalDivFactor")]
    public void OneCycleNamesTheFactorWhoseDerivedValueIsNotFinite(double maximum, double divFactor, double finalDivFactor, string name)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.OneCycle(maximum, 100, divFactor: divFactor, finalDivFactor: finalDivFactor));
        Assert.Equal(name, e.ParamName);
        Assert.Contains("finite", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A final value that underflows to 0 is a value (the cycle ends at 0), not an error.</summary>
    [Fact]
    public void OneCycleAcceptsAFinalValueThatUnderflowsToZero() =>
        Assert.Equal(0, Schedule.OneCycle(1e-300, 100, divFactor: 1, finalDivFactor: 1e300).ValueAt(99));
}
