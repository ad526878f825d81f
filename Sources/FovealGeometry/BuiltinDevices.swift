// Generated from calibration/devices.csv by `make devices`: do not edit; a test keeps them equal.

extension DeviceTable {
    public static let builtinCSV = """
# Foveal's screen geometry table. Lengths in mm, in the device's natural orientation (portrait for
# phones and tablets), x right, y down from the screen's top-left corner. camera_x_mm/camera_y_mm: the
# camera centre (negative y: above the screen). width/height_units: the screen in points (unit pt, iOS)
# or pixels (px). Apple rows: GazeCapture's apple_device_data.csv (camera_x = CameraToScreenX,
# camera_y = -CameraToScreenY). Desktop rows: typical geometry; measure your own with `foveal screen add`.
name,family,width_mm,height_mm,width_units,height_units,unit,ppi,camera_x_mm,camera_y_mm
iPhone 6s Plus,iPhone,68.36,121.54,414,736,pt,401,23.54,-8.66
iPhone 6s,iPhone,58.49,104.05,375,667,pt,326,18.61,-8.04
iPhone 6 Plus,iPhone,68.36,121.54,414,736,pt,401,23.54,-8.65
iPhone 6,iPhone,58.5,104.05,375,667,pt,326,18.61,-8.03
iPhone 5s,iPhone,51.7,90.39,320,568,pt,326,25.85,-10.65
iPhone 5c,iPhone,51.7,90.39,320,568,pt,326,25.85,-10.64
iPhone 5,iPhone,51.7,90.39,320,568,pt,326,25.85,-10.65
iPhone 4s,iPhone,49.92,74.88,320,480,pt,326,14.96,-9.78
iPad Mini,iPad,121.3,161.2,768,1024,pt,326,60.7,-8.7
iPad Air 2,iPad,153.71,203.11,768,1024,pt,264,76.86,-7.37
iPad Air,iPad,149,198.1,768,1024,pt,264,74.4,-9.9
iPad 4,iPad,149,198.1,768,1024,pt,264,74.5,-10.5
iPad 3,iPad,149,198.1,768,1024,pt,132,74.5,-10.5
iPad 2,iPad,149,198.1,768,1024,pt,132,74.5,-10.5
iPad Pro,iPad,196.61,262.15,1024,1366,pt,264,98.31,-10.69
Desktop 24in 1920x1080,monitor,531.4,298.9,1920,1080,px,92,265.7,-15
Desktop 27in 2560x1440,monitor,596.7,335.6,2560,1440,px,109,298.35,-15
Laptop 14in 1920x1080,laptop,309.9,174.3,1920,1080,px,157,154.95,-8
Laptop 13.3in 1920x1080,laptop,294.4,165.6,1920,1080,px,166,147.2,-8
Laptop 13.3in 2560x1600,laptop,286.5,179.0,2560,1600,px,227,143.24,-8
Laptop 14in 1920x1200,laptop,301.5,188.5,1920,1200,px,162,150.77,-9
Laptop 15.6in 1920x1080,laptop,345.4,194.3,1920,1080,px,141,172.68,-10
Laptop 16in 2560x1600,laptop,344.6,215.4,2560,1600,px,189,172.31,-10
Desktop 22in 1920x1080,monitor,476.0,267.7,1920,1080,px,102,237.98,-18
Desktop 24in 1920x1200,monitor,516.9,323.1,1920,1200,px,94,258.47,-20
Desktop 32in 3840x2160,monitor,697.3,392.3,3840,2160,px,140,348.67,-22
"""
}
